"""Dead letters: the messages a service's consumer gave up on, in ``<prefix><service>.events.dead``.

Listing takes each message without acknowledging it and puts every one back, so looking loses
nothing. Replaying publishes a message again to the events exchange under its original routing key
(with confirms; every subscriber's inbox absorbs a copy it already applied) and only then removes
it from the dead-letter queue.
"""

import json
from dataclasses import dataclass

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import Bus


class NoSuchQueue(Exception):
    """The service's dead-letter queue does not exist (it is declared when the service first runs)."""


@dataclass
class DeadLetter:
    message_id: str
    routing_key: str
    reason: str
    deaths: int
    first_death: str
    correlation_id: str
    size: int


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    death = (headers.get("x-death") or [{}])[0]
    keys = death.get("routing-keys") or []
    return DeadLetter(
        message_id=message.message_id or _envelope_field(message, "id") or "?",
        routing_key=_text(keys[0]) if keys else (message.type or _envelope_field(message, "type") or "?"),
        reason=_text(death.get("reason", headers.get("x-first-death-reason", "?"))),
        deaths=int(death.get("count", 1) or 1),
        first_death=str(death.get("time", "")),
        correlation_id=message.correlation_id or "",
        size=len(message.body),
    )


async def _take_all(channel, queue_name: str, limit: int) -> list[AbstractIncomingMessage]:
    try:
        queue = await channel.get_queue(queue_name, ensure=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise NoSuchQueue(f"no queue {queue_name} (has that service run against this broker and prefix?)") from None
    taken = []
    while len(taken) < limit:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    return taken


async def list_dead_letters(settings, service: str, limit: int = 100) -> list[DeadLetter]:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        taken = await _take_all(channel, _queue(settings, service), limit)
        letters = [describe(m) for m in taken]
        for message in taken:
            await message.nack(requeue=True)
        return letters
    finally:
        await connection.close()


async def replay(settings, service: str, message_ids: set[str] | None, limit: int = 1000) -> list[DeadLetter]:
    """Republish the dead letters whose ids are given (all of them when ``message_ids`` is None)."""
    bus = Bus(settings)
    await bus.connect()
    try:
        channel = await bus.connection.channel()
        taken = await _take_all(channel, _queue(settings, service), limit)
        replayed = []
        try:
            for message in taken:
                letter = describe(message)
                if message_ids is not None and letter.message_id not in message_ids:
                    continue
                await bus.publish(
                    letter.routing_key, message.body, message_id=letter.message_id, correlation_id=letter.correlation_id
                )
                await message.ack()
                replayed.append(letter)
        finally:
            for message in taken:
                if not message.processed:
                    await message.nack(requeue=True)
        return replayed
    finally:
        await bus.close()


def _queue(settings, service: str) -> str:
    return f"{settings.bus_prefix}{service}.events.dead"


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _envelope_field(message: AbstractIncomingMessage, name: str) -> str | None:
    try:
        value = json.loads(message.body).get(name)
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, str) else None
