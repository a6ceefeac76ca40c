"""The shared consumer: owns the transaction, the inbox check and the ack, so no handler repeats them.

For each message: parse the envelope (a malformed one is a poison message: straight to the
dead-letter queue), then for each handler of its type, in one transaction, claim (event id, handler)
in the inbox, run the handler, commit. Ack after every handler committed. A handler that fails is
retried by redelivery (nack with requeue, after a short backoff); the quorum queue's delivery limit
bounds the retries and then dead-letters the message.

A handler mapped to ``AllEvents`` is subscribed to every event on the bus (the queue binds ``#``) and
receives the ``Envelope`` itself, of any type, even one this service has no class for (notify's
outgoing webhooks forward every event of a site).
"""

import asyncio
import contextlib
from typing import Awaitable, Callable, ClassVar, Mapping

import asyncpg
from aio_pika.abc import AbstractIncomingMessage
from pydantic import ValidationError

from shared.bus import Bus
from shared.db import UnitOfWork, unit_of_work
from shared.events import Envelope, Event, UnknownEventType
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


class Consumer:
    def __init__(self, settings, pool: asyncpg.Pool, bus: Bus, handlers: Handlers) -> None:
        self.settings = settings
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

    async def start(self) -> None:
        await self.bus.channel.set_qos(prefetch_count=self.settings.prefetch)
        keys = [*self.by_key, *([AllEvents.routing_key] if self.every else [])]
        self._queue = await self.bus.declare_service_queue(keys)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)
        log.info("consumer.started", queue=self.settings.queue_name, routing_keys=sorted(keys))

    async def stop(self) -> None:
        """Stop taking messages, finish the ones in hand (unacked ones return to the queue)."""
        if self._queue is not None and self._tag is not None:
            with contextlib.suppress(Exception):
                await self._queue.cancel(self._tag)
        if self._inflight:
            await asyncio.wait(self._inflight, timeout=self.settings.shutdown_timeout)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        self._inflight.add(task)
        try:
            await self.process(message)
        finally:
            self._inflight.discard(task)

    async def process(self, message: AbstractIncomingMessage) -> None:
        clear_contextvars()
        deliveries = int((message.headers or {}).get("x-delivery-count", 0) or 0) + 1
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
            log.exception("consumer.handler_failed", routing_key=message.routing_key, delivery=deliveries)
            # A short pause so a failing dependency is not hammered; the delivery limit ends the loop.
            await asyncio.sleep(min(self.settings.redelivery_backoff_seconds * 2**deliveries, 5.0))
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            # The broker dead-letters a message whose failed deliveries exceed its delivery limit.
            at_limit = deliveries > self.settings.delivery_limit
            _count(message, "dead_lettered" if at_limit else "retried", dead_reason="delivery_limit" if at_limit else None)
            return
        finally:
            clear_contextvars()
        await message.ack()
        _count(message, "processed")

    async def _apply(self, handler: Handler, envelope: Envelope, event: Event) -> None:
        name = f"{handler.__module__}.{handler.__name__}"
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
