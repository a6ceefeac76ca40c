"""The shared consumer: owns the transaction, the inbox check and the ack, so no handler repeats them.

For each message: parse the envelope (a malformed one is a poison message: straight to the
dead-letter queue), then for each handler of its type claim (event id, handler) in the inbox, run
the handler, commit. Ack after every handler committed. A handler that fails is retried by
redelivery (nack with requeue, after a short backoff); the quorum queue's delivery limit bounds the
retries and then dead-letters the message.

Batches: deliveries that arrive while ``consumer_concurrency`` batches are already in progress wait
and are then applied together, every handler of every message of the batch in **one** transaction
(the inbox claims in one statement, sent with its ``BEGIN``: ``begin_and_claim``), and acked after
it committed; what a handler asked to follow the outcome (``UnitOfWork.then``: notify ending an SMTP
message it began) runs between the commit and the ack. On an idle system a batch is one
message and nothing waits; under load one commit (and one pooled connection) serves many events.
The claims and the effects still commit together, and the acks still follow the commit. When a batch
fails, nothing of it committed: each of its messages is then processed alone, one transaction per
handler, so a failing handler neither blocks the others of its message nor the rest of the batch; a
redelivered message (it failed before) is always processed that way.

A handler mapped to ``AllEvents`` receives the ``Envelope`` itself, of any type, even one this service
has no class for. By default its queue binds ``#`` (every event on the bus); a consumer given its own
``queue`` and ``routing_keys`` binds those instead, and whoever made it binds more as needed (notify's
outgoing webhooks: ``services/notify/webhooks/bindings.py``).
"""

import asyncio
import contextlib
from typing import Awaitable, Callable, ClassVar, Mapping
from uuid import UUID

import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.bus import Bus
from shared.db import UnitOfWork, settle, unit_of_work, values_statements
from shared.events import Envelope, Event, UnknownEventType
from shared.faults import crash_point
from shared.logging import bind_contextvars, clear_contextvars, get_logger
from shared.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED

log = get_logger("shared.consumer")

Handler = Callable[[Event, UnitOfWork], Awaitable[None]]


class AllEvents:
    """Key of ``HANDLERS`` for handlers of every event: they get the ``Envelope``, not a typed event."""

    routing_key: ClassVar[str] = "#"


Handlers = Mapping[type[Event] | type[AllEvents], list[Handler]]


class PoisonMessage(Exception):
    """A message that can never be processed: dead-letter it, do not retry."""


async def claim_inbox(conn: asyncpg.Connection, event_id, handler: str) -> bool:
    """Record (event, handler); False when this handler already applied this event."""
    row = await conn.fetchval(
        "INSERT INTO inbox (event_id, handler) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        event_id,
        handler,
    )
    return row is not None


async def claim_inbox_many(conn: asyncpg.Connection, claims: list[tuple]) -> set[tuple]:
    """Record many (event, handler) at once; → those not applied before (a pair twice: claimed once)."""
    ordered = sorted(set(claims))  # one order for every replica: no deadlock between two batches
    if len(ordered) <= len(_CLAIM_FEW):  # one message's handlers: plain parameters, no arrays to encode
        rows = await conn.fetch(_CLAIM_FEW[len(ordered) - 1], *(value for claim in ordered for value in claim))
    else:
        rows = await conn.fetch(
            "INSERT INTO inbox (event_id, handler) SELECT * FROM unnest($1::uuid[], $2::text[])"
            " ON CONFLICT DO NOTHING RETURNING event_id, handler",
            [c[0] for c in ordered],
            [c[1] for c in ordered],
        )
    return {(r["event_id"], r["handler"]) for r in rows}


async def begin_and_claim(conn: asyncpg.Connection, claims: list[tuple]) -> set[tuple] | None:
    """``BEGIN`` and ``claim_inbox_many`` in one round trip: one simple-protocol query, its values
    written as literals (event ids are UUIDs, handler names are code's), whose status says how many
    pairs were new. → the new pairs when that answers it (all or none of them), the transaction open;
    None when only some were (a retry after a partial failure): nothing open, claim as usual."""
    ordered = sorted(set(claims))
    values = ", ".join(f"('{UUID(str(event_id))}'::uuid, {_literal(handler)})" for event_id, handler in ordered)
    status = await conn.execute(f"BEGIN; INSERT INTO inbox (event_id, handler) VALUES {values} ON CONFLICT DO NOTHING")
    inserted = int(status.rsplit(" ", 1)[1])
    if inserted == len(ordered):
        return set(ordered)
    if inserted == 0:
        return set()
    await conn.execute("ROLLBACK")
    return None


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_CLAIM_FEW = values_statements(
    "INSERT INTO inbox (event_id, handler)", ("::uuid", "::text"), " ON CONFLICT DO NOTHING RETURNING event_id, handler"
)


@contextlib.asynccontextmanager
async def _transaction(conn: asyncpg.Connection, claims: list[tuple]):
    """The batch's transaction, begun with its inbox claims (``begin_and_claim``) → the new pairs;
    committed when the block ends, rolled back when it raises. A handler cannot open a transaction of
    its own inside it (asyncpg refuses ``conn.transaction()`` in one begun by hand: loudly)."""
    try:
        fresh = await begin_and_claim(conn, claims)
    except BaseException:
        await _roll_back(conn)
        raise
    if fresh is None:
        async with conn.transaction():
            yield await claim_inbox_many(conn, claims)
        return
    try:
        yield fresh
    except BaseException:
        await _roll_back(conn)
        raise
    await conn.execute("COMMIT")


async def _roll_back(conn: asyncpg.Connection) -> None:
    """End a transaction begun by hand that failed (the pool would otherwise warn and roll it back)."""
    if not conn.is_closed() and conn.is_in_transaction():
        with contextlib.suppress(Exception):
            await asyncio.shield(conn.execute("ROLLBACK"))


def handler_name(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__name__}"


class Consumer:
    def __init__(
        self, settings, pool: asyncpg.Pool, bus: Bus, handlers: Handlers, *,
        queue: str | None = None, routing_keys: list[str] | None = None,
    ) -> None:
        """``queue`` (default: the service's ``<service>.events``) and its ``routing_keys`` (default:
        those of ``handlers``)."""
        self.settings = settings
        self.queue_name = queue or settings.queue_name
        self.routing_keys = routing_keys
        self.pool = pool
        self.bus = bus
        self.by_key: dict[str, list[Handler]] = {}
        self.every: list[Handler] = []
        for event_type, funcs in handlers.items():
            if event_type is AllEvents:
                self.every.extend(funcs)
            else:
                self.by_key.setdefault(event_type.routing_key, []).extend(funcs)
        self._queue = None
        self._tag: str | None = None
        self._inflight: set[asyncio.Task] = set()
        self._waiting: list[AbstractIncomingMessage] = []
        self._batches = 0

    async def start(self) -> None:
        await self.bus.channel.set_qos(prefetch_count=self.settings.prefetch)
        keys = self.routing_keys
        if keys is None:
            keys = [*self.by_key, *([AllEvents.routing_key] if self.every else [])]
        self._queue = await self.bus.declare_service_queue(keys, self.queue_name)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)
        log.info("consumer.started", queue=self.queue_name, routing_keys=sorted(keys))

    async def stop(self) -> None:
        """Stop taking messages, finish the ones in hand (unacked ones return to the queue)."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self.settings.shutdown_timeout)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        """Each delivery arrives in a task of its own. It joins the waiting list; when fewer than
        ``consumer_concurrency`` batches are in progress, this task leads one: it takes what waits
        (up to ``consumer_batch`` messages), applies it, and goes on until nothing waits."""
        self._waiting.append(message)
        if self._batches >= self.settings.consumer_concurrency:
            return  # a batch in progress takes it next
        task = asyncio.current_task()
        self._inflight.add(task)
        self._batches += 1
        try:
            while self._waiting:
                batch = self._waiting[: self.settings.consumer_batch]
                del self._waiting[: len(batch)]
                try:
                    await self.process_batch(batch)
                except Exception as exc:
                    # Whatever failed here, what still waits is this task's to take: a leader that
                    # stopped would leave it until the next delivery (for ever, after the last one).
                    log.warning("consumer.batch_failed", size=len(batch), error=repr(exc))
        finally:
            self._batches -= 1
            self._inflight.discard(task)

    async def process_batch(self, messages: list[AbstractIncomingMessage]) -> None:
        """Every handler of every message in one transaction, then ack them all; on failure each
        message alone (``process``)."""
        work: list[tuple[AbstractIncomingMessage, Envelope, list[tuple[Handler, Event | Envelope]]]] = []
        alone: list[AbstractIncomingMessage] = []
        for message in messages:
            parsed = self._parse(message) if _deliveries(message) == 1 else None
            if parsed is None:
                alone.append(message)  # redelivered (it failed before) or poison: the careful path
            else:
                work.append((message, *parsed))
        try:
            if work:
                await self._apply_together(work)
        except asyncio.CancelledError:
            for message in [m for m, _, _ in work] + alone:
                with contextlib.suppress(Exception):
                    await message.nack(requeue=True)
            raise
        except Exception as exc:
            if len(work) == 1 and not alone and not isinstance(exc, PoisonMessage):
                # One message: this attempt was its delivery; the redelivery takes the careful path.
                await self._failed(work[0][0], exc)
                return
            log.warning("consumer.batch_failed", size=len(work), error=repr(exc))
            alone = [m for m, _, _ in work] + alone
        else:
            for message, _, _ in work:
                await _ack(message)
        for message in alone:
            await self.process(message)

    def _parse(self, message: AbstractIncomingMessage):
        """(envelope, [(handler, what it receives)]) or None when the message does not parse."""
        try:
            envelope = Envelope.model_validate_json(message.body)
            typed = self.by_key.get(envelope.type, [])
            calls = []
            if typed or not self.every:
                event = envelope.open()
                calls += [(handler, event) for handler in typed]
            calls += [(handler, envelope) for handler in self.every]
            return envelope, calls
        except (ValidationError, UnknownEventType, UnicodeDecodeError):
            return None

    async def _apply_together(self, work) -> None:
        claims = [(envelope.id, handler_name(handler)) for _, envelope, calls in work for handler, _ in calls]
        if not claims:
            return  # no handler for these types (left from an older binding): nothing to apply
        published = committed = False
        uows: list[UnitOfWork] = []
        try:
            async with self.pool.acquire() as conn, _transaction(conn, claims) as fresh:
                for _, envelope, calls in work:
                    clear_contextvars()
                    bind_contextvars(
                        correlation_id=envelope.correlation_id, event_id=str(envelope.id), event_type=envelope.type
                    )
                    for handler, event in calls:
                        name = handler_name(handler)
                        if (envelope.id, name) not in fresh:
                            log.info("consumer.duplicate_ignored", handler=handler.__name__)
                            continue
                        fresh.discard((envelope.id, name))  # the same event twice in one batch: applied once
                        uow = UnitOfWork(
                            conn,
                            producer=self.settings.service,
                            correlation_id=envelope.correlation_id,
                            causation_id=envelope.id,
                            settles=True,
                        )
                        uows.append(uow)
                        await handler(event, uow)
                        published = published or bool(uow.published)
                        log.info("consumer.applied", handler=handler.__name__)
                if published:
                    crash_point("uow.before_commit")
            committed = True
            if published:
                crash_point("uow.after_commit")
        finally:
            await asyncio.shield(settle(uows, committed))
            clear_contextvars()

    async def process(self, message: AbstractIncomingMessage) -> None:
        """One message alone: each handler in a transaction of its own."""
        clear_contextvars()
        try:
            envelope = Envelope.model_validate_json(message.body)
            bind_contextvars(
                correlation_id=envelope.correlation_id, event_id=str(envelope.id), event_type=envelope.type
            )
            typed = self.by_key.get(envelope.type, [])
            if typed or not self.every:
                event = envelope.open()
                for handler in typed:
                    await self._apply(handler, envelope, event)
            for handler in self.every:
                await self._apply(handler, envelope, envelope)
        except (ValidationError, UnknownEventType, PoisonMessage, UnicodeDecodeError) as exc:
            log.error("consumer.poison_message", routing_key=message.routing_key, error=_describe(exc))
            await message.reject(requeue=False)
            _count(message, "dead_lettered", dead_reason="poison")
            return
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            raise
        except Exception as exc:
            await self._failed(message, exc)
            return
        finally:
            clear_contextvars()
        await _ack(message)

    async def _failed(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        deliveries = _deliveries(message)
        log.error(
            "consumer.handler_failed", routing_key=message.routing_key, delivery=deliveries,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        # A short pause so a failing dependency is not hammered; the delivery limit ends the loop.
        await asyncio.sleep(min(self.settings.redelivery_backoff_seconds * 2**deliveries, 5.0))
        with contextlib.suppress(Exception):
            await message.nack(requeue=True)
        # The broker dead-letters a message whose failed deliveries exceed its delivery limit.
        at_limit = deliveries > self.settings.delivery_limit
        _count(message, "dead_lettered" if at_limit else "retried", dead_reason="delivery_limit" if at_limit else None)

    async def _apply(self, handler: Handler, envelope: Envelope, event: Event) -> None:
        name = handler_name(handler)
        async with unit_of_work(
            self.pool,
            producer=self.settings.service,
            correlation_id=envelope.correlation_id,
            causation_id=envelope.id,
        ) as uow:
            if not await claim_inbox(uow.conn, envelope.id, name):
                log.info("consumer.duplicate_ignored", handler=handler.__name__)
                return
            await handler(event, uow)
        log.info("consumer.applied", handler=handler.__name__)


async def _ack(message: AbstractIncomingMessage) -> None:
    """Ack after the commit. An ack that fails (its channel closed with the broker: a restart) is not
    an error of the message: the broker delivers it again on the next channel, and the inbox makes that
    a no-op; the messages after it are still acked (or delivered again) each on its own."""
    try:
        await message.ack()
    except Exception as exc:
        log.warning("consumer.ack_failed", routing_key=message.routing_key, error=repr(exc))
        return
    _count(message, "processed")


def _deliveries(message: AbstractIncomingMessage) -> int:
    """This delivery's number: 1 the first time, 2 after one failed attempt..."""
    return int((message.headers or {}).get("x-delivery-count", 0) or 0) + 1


def _count(message: AbstractIncomingMessage, outcome: str, dead_reason: str | None = None) -> None:
    event_type = message.routing_key or "unknown"
    EVENTS_CONSUMED.labels(event_type, outcome).inc()
    if dead_reason is not None:
        EVENTS_DEAD_LETTERED.labels(event_type, dead_reason).inc()


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # Field locations and error types only: never the offending values.
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())
    return type(exc).__name__ + (f": {exc}" if isinstance(exc, (UnknownEventType, PoisonMessage)) else "")
