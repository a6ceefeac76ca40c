"""Dead letters: the messages a service's consumer gave up on, in ``<prefix><service>.events.dead``.

Looking takes every message of the queue without acknowledging it, then returns them all, in the
order they were taken. A quorum queue puts a returned message at its tail, so returning the whole
queue in order leaves it as it was: looking loses nothing and reorders nothing. Only one looker at a
time per queue (a PostgreSQL advisory lock, shared by every replica of the service and by the
operator CLI): a second one would find the queue empty while the first holds its messages.

Replaying publishes a message again, with confirms, to the queue it died in (its ``x-death``): only
the consumer that gave up on it sees it again, and its inbox absorbs a copy it already applied. Only
then is it removed from the dead-letter queue. A message that never went through a queue (put in
the dead-letter queue by hand) goes to the events exchange under its routing key.

A dead letter older than the inbox retention (its event occurred, or it was first parked, more than
``CC_INBOX_RETENTION_DAYS`` ago) is not replayed: the inbox rows that would absorb what it already
applied may have been pruned (``shared/inbox.py``). It stays in the queue, for inspection.

A dead letter belongs to the site its envelope's payload names (``payload.site_id``): the admin API
shows and replays only its own site's. One without a readable site is the operator's (the CLI).
"""

import contextlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

import aiormq
import asyncpg
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiohttp import web

from shared import audit
from shared.app import BUS, POOL, SETTINGS
from shared.bus import Bus
from shared.errors import NotFound, ServiceError
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("shared.dead_letters")

# More than this many dead letters is an operator's emergency: beyond it, looking would move the
# ones it took behind the rest.
MAX_TAKEN = 10_000


class NoSuchQueue(Exception):
    """The service's dead-letter queue does not exist (it is declared when the service first runs)."""


class TooManyDeadLetters(ServiceError):
    status = 503
    code = "too_many_dead_letters"


class DeadLetterTooOld(ServiceError):
    status = 409
    code = "dead_letter_too_old"


@dataclass
class DeadLetter:
    message_id: str
    routing_key: str
    reason: str
    deaths: int
    first_death: str
    correlation_id: str
    size: int
    site_id: str | None
    queue: str | None  # the queue it died in
    since: datetime | None = None  # the earlier of its event's occurred_at and its first death

    def view(self, service: str) -> dict:
        data = asdict(self)
        data.pop("queue")
        data.pop("since")
        return {"id": data.pop("message_id"), "service": service, **data}

    def too_old(self, max_age: timedelta, now: datetime | None = None) -> bool:
        return self.since is not None and (now or datetime.now(timezone.utc)) - self.since > max_age


def too_old_message(letter: DeadLetter, max_age: timedelta) -> str:
    return (
        f"dead letter {letter.message_id} cannot be replayed: its event occurred or was first parked at "
        f"{letter.since:%Y-%m-%d %H:%M} UTC, more than CC_INBOX_RETENTION_DAYS ({max_age / timedelta(days=1):g} days) "
        "ago, and the inbox rows that make a replay harmless may be gone. It stays in the dead-letter queue: "
        "apply what it asked for by hand if it still matters."
    )


def describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    death = (headers.get("x-death") or [{}])[0]
    keys = death.get("routing-keys") or []
    envelope = _envelope(message)
    payload = envelope.get("payload") if isinstance(envelope.get("payload"), dict) else {}
    first = death.get("time")
    first = first.astimezone(timezone.utc) if isinstance(first, datetime) else None
    times = [t for t in (first, _time(envelope.get("occurred_at"))) if t is not None]
    return DeadLetter(
        message_id=message.message_id or _text_or_none(envelope.get("id")) or "?",
        routing_key=_text(keys[0]) if keys else (message.type or _text_or_none(envelope.get("type")) or "?"),
        reason=_text(death.get("reason", headers.get("x-first-death-reason", "?"))),
        deaths=int(death.get("count", 1) or 1),
        first_death=first.isoformat() if first is not None else str(death.get("time") or ""),
        correlation_id=message.correlation_id or "",
        size=len(message.body),
        site_id=_site_id(payload.get("site_id")),
        queue=_text(death["queue"]) if death.get("queue") else None,
        since=min(times) if times else None,
    )


@contextlib.asynccontextmanager
async def one_at_a_time(conn: asyncpg.Connection, queue_name: str):
    """Hold the queue's advisory lock (database-wide, so every replica and the CLI share it)."""
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", "dead-letters:" + queue_name)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", "dead-letters:" + queue_name)


async def take_all(channel: AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    try:
        queue = await channel.get_queue(queue_name, ensure=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise NoSuchQueue(f"no queue {queue_name} (has that service run against this broker and prefix?)") from None
    taken = []
    while len(taken) < MAX_TAKEN:
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        taken.append(message)
    if len(taken) >= MAX_TAKEN:
        await put_back(taken)
        raise TooManyDeadLetters(f"{queue_name} holds more than {MAX_TAKEN} messages: use the operator CLI.")
    return taken


async def put_back(taken: list[AbstractIncomingMessage]) -> None:
    """Return every message not acknowledged, one by one in the order taken (so the order survives)."""
    for message in taken:
        if not message.processed:
            await message.nack(requeue=True)


async def look(channel: AbstractChannel, queue_name: str) -> list[DeadLetter]:
    taken = await take_all(channel, queue_name)
    try:
        return [describe(m) for m in taken]
    finally:
        await put_back(taken)


async def replay(
    bus: Bus, channel: AbstractChannel, queue_name: str, chosen, *, max_age: timedelta
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Republish the dead letters ``chosen(letter)`` picks, unless older than ``max_age`` (the inbox
    retention); each is removed only once the broker confirmed its copy. → (replayed, refused as too old)."""
    taken = await take_all(channel, queue_name)
    replayed, refused = [], []
    now = datetime.now(timezone.utc)
    try:
        for message in taken:
            letter = describe(message)
            if not chosen(letter):
                continue
            if letter.too_old(max_age, now):
                refused.append(letter)
                log.warning("dead_letter.too_old", message_id=letter.message_id, since=letter.since.isoformat())
                continue
            await bus.publish(
                letter.routing_key, message.body, message_id=letter.message_id,
                correlation_id=letter.correlation_id, queue=letter.queue,
                # Its history goes along: dead again, the broker counts a second death.
                headers={"x-death": message.headers["x-death"]} if (message.headers or {}).get("x-death") else None,
            )
            await message.ack()
            replayed.append(letter)
            log.info("dead_letter.replayed", message_id=letter.message_id, queue=letter.queue or letter.routing_key)
    finally:
        await put_back(taken)
    return replayed, refused


# --- the admin API of a service with a consumer (the gateway asks every such service) ----------------

routes = web.RouteTableDef()


@contextlib.asynccontextmanager
async def _dead_letter_queue(request: web.Request):
    """A channel of its own (closing it returns anything still held) under the queue's lock."""
    queue_name = request.app[SETTINGS].dead_letter_queue_name
    async with request.app[POOL].acquire() as conn, one_at_a_time(conn, queue_name):
        channel = await request.app[BUS].connection.channel()
        try:
            yield channel, queue_name
        finally:
            with contextlib.suppress(Exception):
                await channel.close()


@routes.get("/admin/api/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    site_id = str(admin_site_of(request).site_id)
    service = request.app[SETTINGS].service
    async with _dead_letter_queue(request) as (channel, queue_name):
        letters = await look(channel, queue_name)
    return web.json_response({"dead_letters": [d.view(service) for d in letters if d.site_id == site_id]})


@routes.post("/admin/api/dead-letters/{id}/replay")
async def replay_dead_letter(request: web.Request) -> web.Response:
    """Another site's dead letter, or one not there (any more): 404. One older than the inbox
    retention: 409 ``dead_letter_too_old``, and it stays."""
    admin = admin_site_of(request)
    site_id = str(admin.site_id)
    message_id = request.match_info["id"]
    settings = request.app[SETTINGS]
    max_age = timedelta(days=settings.inbox_retention_days)
    async with _dead_letter_queue(request) as (channel, queue_name):
        replayed, refused = await replay(
            request.app[BUS], channel, queue_name, lambda d: d.message_id == message_id and d.site_id == site_id,
            max_age=max_age,
        )
    if refused and not replayed:
        letter = refused[0]
        raise DeadLetterTooOld(too_old_message(letter, max_age), details={
            "since": letter.since.isoformat(), "retention_days": settings.inbox_retention_days})
    if not replayed:
        raise NotFound("No such dead letter.")
    async with request.app[POOL].acquire() as conn:
        for letter in replayed:  # the broker has no transaction to share: recorded once it confirmed
            await audit.record(conn, admin, "dead_letter.replayed", "dead_letter", letter.message_id,
                               before=letter.view(settings.service))
    return web.json_response({"replayed": [d.view(settings.service) for d in replayed]})


def _envelope(message: AbstractIncomingMessage) -> dict:
    try:
        value = json.loads(message.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _site_id(value) -> str | None:
    try:
        return str(UUID(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def _time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _text_or_none(value) -> str | None:
    return value if isinstance(value, str) else None
