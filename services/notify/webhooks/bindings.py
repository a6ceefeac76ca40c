"""Which events reach notify's webhooks queue: only the types some active endpoint subscribed to.

Notify's outgoing webhooks used to bind notify's queue to ``#``: every event on the bus cost notify a
delivery, a transaction and an inbox row, though most are wanted by no endpoint. Now the webhooks have
a queue of their own, ``{prefix}notify.webhooks``, bound to exactly the event types of the active
endpoints (``#`` when one subscribed to ``*``), and the email handlers' queue to their own types.

No event an endpoint wants is missed, across replicas and restarts:

- **Binding comes before the commit.** Creating an endpoint, or changing its types or activating it,
  takes a database-wide advisory lock, makes the change, binds the queue to the endpoint's types and
  only then commits. Every event published after the commit is routed to the queue (the binding is
  durable, on a durable queue), and the consumer then finds the endpoint committed. An event
  published earlier was never promised to the endpoint, as before.
- **Unbinding comes after the commit, under the same lock**, and from what is committed: a type is
  unbound only when no active endpoint subscribes to it. A concurrent creation waits for the lock, so
  it binds after any unbinding that read the state before it (and an unbinding that comes after it
  sees its endpoint).
- **At start**, under the same lock, the queue is bound to every type the active endpoints want,
  and unbound from every other known type (a binding left by a crash between a commit and its
  unbinding, or by an endpoint change rolled back after it bound, costs deliveries, not correctness).

The lock is transaction-scoped (``pg_advisory_xact_lock``): it ends with the commit or rollback.
"""

import asyncpg
from aiohttp import web

from shared.bus import Bus
from shared.events import EVENT_TYPES
from shared.logging import get_logger

log = get_logger("notify.webhooks.bindings")

_LOCK = "notify:webhook-bindings"
EVERY_TYPE = "*"


def queue_name(settings) -> str:
    return f"{settings.bus_prefix}notify.webhooks"


def routing_keys(event_types) -> set[str]:
    """The bindings the event types of endpoints need: ``*`` is every event (``#``)."""
    return {"#" if t == EVERY_TYPE else t for t in event_types}


async def lock(conn: asyncpg.Connection) -> None:
    """Until this transaction ends, no other replica binds or unbinds the webhooks queue."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", _LOCK)


async def wanted(conn: asyncpg.Connection) -> set[str]:
    """The routing keys the committed active endpoints need."""
    rows = await conn.fetch("SELECT DISTINCT unnest(event_types) AS t FROM webhook_endpoints WHERE active")
    return routing_keys(r["t"] for r in rows)


class WebhookBindings:
    """The webhooks queue's bindings; ``BINDINGS`` in notify's app."""

    def __init__(self, settings, pool: asyncpg.Pool, bus: Bus) -> None:
        self.pool = pool
        self.bus = bus
        self.queue = queue_name(settings)

    async def bind_before_commit(self, conn: asyncpg.Connection, event_types) -> None:
        """In the transaction that creates or changes an endpoint, *before* it writes: take the lock
        (held to the commit), then bind; call it before the endpoint's row is written so that the
        lock orders this transaction against every unbinding."""
        await lock(conn)
        keys = routing_keys(event_types)
        if keys:
            await self.bus.bind(self.queue, keys)

    async def unbind_unwanted(self, event_types) -> None:
        """After a commit that removed or narrowed an endpoint: unbind those of ``event_types`` that
        no active endpoint wants any more."""
        keys = routing_keys(event_types)
        if not keys:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await lock(conn)
            unwanted = keys - await wanted(conn)
            if unwanted:
                await self.bus.unbind(self.queue, unwanted)
                log.info("webhooks.unbound", routing_keys=sorted(unwanted))

    async def reconcile(self) -> list[str]:
        """At start: bind what the active endpoints want, unbind every other known type. Returns the
        keys bound. The queue must exist (the webhooks consumer declares it with these keys first)."""
        async with self.pool.acquire() as conn, conn.transaction():
            await lock(conn)
            keys = await wanted(conn)
            if keys:
                await self.bus.bind(self.queue, keys)
            stale = ({key for key, _ in EVENT_TYPES} | {"#"}) - keys
            await self.bus.unbind(self.queue, stale)
        return sorted(keys)

    async def wanted_now(self) -> list[str]:
        async with self.pool.acquire() as conn, conn.transaction():
            await lock(conn)
            return sorted(await wanted(conn))


BINDINGS = web.AppKey("webhook_bindings", WebhookBindings)
