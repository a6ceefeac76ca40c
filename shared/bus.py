"""RabbitMQ: one topic exchange for events, a durable quorum queue per consuming service with a
bounded delivery count and its own dead-letter queue, publisher confirms and mandatory publishing.
"""

import asyncio
import struct
from typing import Iterable

import aio_pika
import aiormq
import pamqp.frame
from aio_pika.abc import AbstractRobustChannel, AbstractRobustConnection, AbstractExchange
from aiormq.abc import ChannelFrame
from pamqp import commands as spec

from shared.logging import get_logger

log = get_logger("shared.bus")


class Unroutable(Exception):
    """The broker had no queue for the message (mandatory publishing): it was not delivered."""


# The content header of every event: its fixed properties (pamqp's order and flags) and their bytes.
_ALWAYS = 0x8000 | 0x2000 | 0x1000 | 0x0800 | 0x0080 | 0x0020  # type, headers, mode, priority, id, type name
_CORRELATION = 0x0400
_HEADER_START = struct.Struct(">BHIHHQH")  # frame type, channel, size; class, weight, body size, flags
_FRAME = struct.Struct(">BHI")
_JSON_EMPTY_HEADERS_PERSISTENT = b"\x10application/json" + b"\x00\x00\x00\x00" + b"\x02\x00"


def _short(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise TypeError("string exceeds maximum length of 255 bytes")  # as pamqp says it
    return bytes((len(raw),)) + raw


def content_frames(
    channel: int, max_content_size: int, body: bytes, routing_key: str, message_id: str, correlation_id: str
) -> bytes:
    """The content header and body frames of one event, byte for byte what pamqp marshals for
    ``Basic.Properties(content_type="application/json", headers={}, delivery_mode=2, priority=0,
    correlation_id=..., message_id=..., message_type=routing_key)`` and aiormq's split of the body
    (``tests/unit/test_bus_frames.py`` compares them), at a fifth of pamqp's CPU: its generic
    property encoder was the outbox relay's largest cost."""
    properties = (
        _JSON_EMPTY_HEADERS_PERSISTENT
        + (_short(correlation_id) if correlation_id else b"")
        + _short(message_id)
        + _short(routing_key)
    )
    flags = _ALWAYS | (_CORRELATION if correlation_id else 0)
    frames = [_HEADER_START.pack(2, channel, 14 + len(properties), 60, 0, len(body), flags), properties, b"\xce"]
    for start in range(0, len(body), max_content_size):
        part = body[start:start + max_content_size]
        frames += (_FRAME.pack(3, channel, len(part)), part, b"\xce")
    return b"".join(frames)


class Bus:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.connection: AbstractRobustConnection | None = None
        self.channel: AbstractRobustChannel | None = None
        self.exchange: AbstractExchange | None = None

    async def connect(self) -> None:
        self.connection = await aio_pika.connect_robust(
            self.settings.amqp_url, client_properties={"connection_name": f"cc-{self.settings.service}"}
        )
        self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
        self.exchange = await self.channel.declare_exchange(
            self.settings.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )

    @property
    def ready(self) -> bool:
        return (
            self.connection is not None
            and not self.connection.is_closed
            and self.channel is not None
            and not self.channel.is_closed
        )

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()

    async def publish(
        self, routing_key: str, body: bytes, *, message_id: str, correlation_id: str, queue: str | None = None,
        headers: dict | None = None,
    ) -> None:
        """Publish one persistent message and wait for the broker's confirm; to one ``queue`` alone
        when given (a dead letter replayed to the consumer that gave up on it).

        Raises ``Unroutable`` when no queue is bound for the routing key (or there is no such queue).
        """
        message = aio_pika.Message(
            body,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type="application/json",
            message_id=message_id,
            correlation_id=correlation_id,
            type=routing_key,
            headers=headers,
        )
        try:
            if queue is not None:
                await self.channel.default_exchange.publish(message, routing_key=queue, mandatory=True)
            else:
                await self.exchange.publish(message, routing_key=routing_key, mandatory=True)
        except aiormq.exceptions.PublishError as exc:
            raise Unroutable(routing_key) from exc

    async def publish_many(self, messages: list[tuple[str, bytes, str, str]]) -> list[BaseException | None]:
        """``publish`` for many (routing_key, body, message_id, correlation_id) to the events exchange:
        the same persistent, mandatory messages with the same properties, but their frames written
        to the socket together and their confirms awaited together. One result per message, in
        order: None (confirmed), ``Unroutable``, or the error (a nack, the connection lost).

        aio-pika's ``publish`` costs about 100 us of CPU per message (a ``Message``, the channel
        lock, the frames marshalled and queued for the writer one message at a time); this costs
        about a quarter of it, which is most of what the outbox relay spends per event (the content
        frames are ``content_frames``'s, not pamqp's). It keeps
        aiormq's own bookkeeping exactly as ``aiormq.Channel.basic_publish`` does (one delivery tag
        per message, its confirmation future, and its message id for a ``Basic.Return``), under the
        channel's lock, so the broker's acks, nacks and returns resolve these futures as they would
        aio-pika's."""
        if not messages:
            return []
        channel = await self.channel.get_underlay_channel()
        exchange = self.settings.exchange_name
        futures: list[asyncio.Future] = []
        tags: list[tuple[str, int]] = []
        async with channel.lock:
            publish_frames: dict[str, bytes] = {}
            payload: list[bytes] = []
            for routing_key, body, message_id, correlation_id in messages:
                if (publish := publish_frames.get(routing_key)) is None:
                    publish = publish_frames[routing_key] = pamqp.frame.marshal(
                        spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=True), channel.number
                    )
                payload.append(publish)
                payload.append(content_frames(channel.number, channel.max_content_size, body,
                                              routing_key, message_id, correlation_id))
                channel.delivery_tag += 1
                future = channel.create_future()
                channel.confirmations[channel.delivery_tag] = future
                channel.message_id_delivery_tag[message_id] = channel.delivery_tag
                futures.append(future)
                tags.append((message_id, channel.delivery_tag))
            try:
                await channel.write_queue.put(ChannelFrame(payload=b"".join(payload), should_close=False))
            except BaseException:
                # Not queued: the broker never sees these tags, so they are given back (as aiormq does).
                for message_id, tag in tags:
                    channel.confirmations.pop(tag, None)
                    if channel.message_id_delivery_tag.get(message_id) == tag:
                        channel.message_id_delivery_tag.pop(message_id)
                channel.delivery_tag -= len(tags)
                for future in futures:
                    future.cancel()
                raise
        try:
            results = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            for message_id, tag in tags:
                if channel.message_id_delivery_tag.get(message_id) == tag:
                    channel.message_id_delivery_tag.pop(message_id)
        return [
            None if not isinstance(r, BaseException)
            else Unroutable(routing_key) if isinstance(r, aiormq.exceptions.PublishError)
            else r
            for (routing_key, *_), r in zip(messages, results)
        ]

    async def declare_service_queue(
        self, routing_keys: Iterable[str], name: str | None = None
    ) -> aio_pika.abc.AbstractQueue:
        """The service's quorum queue (or another of the service's queues, ``name``), bound to every key
        it handles, and the service's dead-letter queue, which takes the dead letters of all of them."""
        s = self.settings
        dead_exchange = await self.channel.declare_exchange(
            s.dead_letter_exchange_name, aio_pika.ExchangeType.DIRECT, durable=True
        )
        dead_queue = await self.channel.declare_queue(
            s.dead_letter_queue_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead_queue.bind(dead_exchange, routing_key=s.dead_letter_queue_name)
        queue = await self.channel.declare_queue(
            name or s.queue_name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": s.delivery_limit,
                "x-dead-letter-exchange": s.dead_letter_exchange_name,
                "x-dead-letter-routing-key": s.dead_letter_queue_name,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        for key in sorted(set(routing_keys)):
            await queue.bind(self.exchange, routing_key=key)
        return queue

    async def bind(self, queue: str, routing_keys: Iterable[str]) -> None:
        """Bind a queue declared earlier to more routing keys (binding twice changes nothing)."""
        declared = await self.channel.get_queue(queue, ensure=False)
        for key in sorted(set(routing_keys)):
            await declared.bind(self.exchange, routing_key=key)

    async def unbind(self, queue: str, routing_keys: Iterable[str]) -> None:
        """Remove bindings of a queue (removing one that does not exist changes nothing)."""
        declared = await self.channel.get_queue(queue, ensure=False)
        for key in sorted(set(routing_keys)):
            await declared.unbind(self.exchange, routing_key=key)

    async def declare_unrouted_sink(self) -> None:
        """``{prefix}cc.unrouted``: a queue that holds nothing (``x-max-length`` 0), bound to ``#``.

        The relays publish with ``mandatory``; an event that no service consumes (and no webhook wants
        at the moment, e.g. ``notify.email.sent``) would otherwise come back unroutable and be retried
        forever. Notify declares it at start, as it used to make every event routable by binding its own
        queue to ``#``: before notify's first start an event with no consumer is still unroutable.
        """
        sink = await self.channel.declare_queue(
            self.settings.unrouted_queue_name, durable=True, arguments={"x-max-length": 0}
        )
        await sink.bind(self.exchange, routing_key="#")


async def wait_for_broker(settings, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            conn = await aio_pika.connect(settings.amqp_url)
            await conn.close()
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
