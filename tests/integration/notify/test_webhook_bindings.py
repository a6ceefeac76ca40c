"""The webhooks queue is bound to exactly the event types active endpoints want (bound before the
endpoint's commit, unbound after, under one lock; reconciled at start), and the sink keeps every
event routable.

Against the real broker, on an exchange of the test's own (no sink, no other queue), so a publish
with ``mandatory`` is a precise probe: it is refused (``Unroutable``) exactly when the webhooks queue
is not bound to the key. Notify's tables in a schema of the test's own (the running system's
endpoints, e.g. another test's ``*``, would be wanted too)."""

import asyncio
import uuid
from pathlib import Path

import pytest

from services.notify import repository as repo
from services.notify.webhooks import bindings
from shared.bus import Bus, Unroutable
from shared.db import create_pool, migrate
from shared.settings import ServiceSettings
from tests.conftest import AMQP_URL

NOTIFY_DIR = Path(__file__).parents[3] / "services" / "notify"
GRANTED, REVOKED, SENT = "membership.granted", "membership.revoked", "notify.email.sent"


@pytest.fixture
async def webhooks(database_url, bus_prefix):
    schema = "nb_" + uuid.uuid4().hex[:8]
    settings = ServiceSettings(
        service="notify", database_url=database_url, amqp_url=AMQP_URL, bus_prefix=f"{bus_prefix}{schema}."
    )
    await migrate(database_url, schema, NOTIFY_DIR)
    pool = await create_pool(settings, schema)
    bus = Bus(settings)
    await bus.connect()
    found = bindings.WebhookBindings(settings, pool, bus)
    await bus.declare_service_queue([], found.queue)
    yield settings, pool, bus, found
    for queue in (found.queue, settings.dead_letter_queue_name, settings.unrouted_queue_name):
        await bus.channel.queue_delete(queue)
    for exchange in (settings.exchange_name, settings.dead_letter_exchange_name):
        await bus.channel.exchange_delete(exchange)
    await bus.close()
    async with pool.acquire() as conn:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    await pool.close()


async def routable(bus: Bus, key: str) -> bool:
    try:
        await bus.publish(key, b"{}", message_id=str(uuid.uuid4()), correlation_id="probe")
    except Unroutable:
        return False
    return True


async def create(pool, found, types: list[str], *, commit: bool = True) -> uuid.UUID:
    endpoint_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        await found.bind_before_commit(conn, types)
        await repo.create_endpoint(conn, endpoint_id=endpoint_id, site_id=uuid.uuid4(), url="http://127.0.0.1:9/h",
                                   event_types=types, secret="whsec_test")
    return endpoint_id


async def test_an_endpoint_binds_its_types_and_only_those_and_unbinds_them_when_gone(webhooks):
    _, pool, bus, found = webhooks
    assert not await routable(bus, GRANTED) and not await routable(bus, REVOKED)

    first = await create(pool, found, [GRANTED, REVOKED])
    second = await create(pool, found, [GRANTED])
    assert await routable(bus, GRANTED) and await routable(bus, REVOKED)
    assert not await routable(bus, SENT)  # no endpoint wants it: notify never receives it

    async with pool.acquire() as conn:  # the first narrowed to `granted`: `revoked` is wanted by none
        await repo.update_endpoint(conn, (await repo_site(conn, first)), first, url=None, event_types=[GRANTED], active=None)
    await found.unbind_unwanted({REVOKED})
    assert not await routable(bus, REVOKED) and await routable(bus, GRANTED)

    async with pool.acquire() as conn:  # `granted` is still the second's: kept
        await repo.delete_endpoint(conn, await repo_site(conn, first), first)
    await found.unbind_unwanted({GRANTED})
    assert await routable(bus, GRANTED)

    async with pool.acquire() as conn:  # deactivated: wanted by no active endpoint
        await repo.update_endpoint(conn, await repo_site(conn, second), second, url=None, event_types=None, active=False)
    await found.unbind_unwanted({GRANTED})
    assert not await routable(bus, GRANTED)


async def repo_site(conn, endpoint_id):
    return await conn.fetchval("SELECT site_id FROM webhook_endpoints WHERE id = $1", endpoint_id)


async def test_every_type_binds_everything(webhooks):
    _, pool, bus, found = webhooks
    endpoint = await create(pool, found, ["*"])
    assert await routable(bus, SENT) and await routable(bus, REVOKED)
    async with pool.acquire() as conn:
        await repo.delete_endpoint(conn, await repo_site(conn, endpoint), endpoint)
    await found.unbind_unwanted(["*"])
    assert not await routable(bus, SENT)


async def test_an_unbinding_waits_for_a_creation_in_progress_and_then_keeps_its_binding(webhooks):
    """Endpoint A (revoked) is deleted while endpoint B (revoked) is being created by another replica:
    the unbinding must not remove the binding B's transaction made before its commit."""
    _, pool, bus, found = webhooks
    a = await create(pool, found, [REVOKED])
    async with pool.acquire() as creating, creating.transaction():
        await found.bind_before_commit(creating, [REVOKED])  # holds the lock until its commit
        await repo.create_endpoint(creating, endpoint_id=uuid.uuid4(), site_id=uuid.uuid4(), url="http://127.0.0.1:9/b",
                                   event_types=[REVOKED], secret="whsec_test")
        async with pool.acquire() as conn:
            await repo.delete_endpoint(conn, await repo_site(conn, a), a)
        unbinding = asyncio.create_task(found.unbind_unwanted([REVOKED]))
        await asyncio.sleep(0.5)
        assert not unbinding.done()  # waits for the lock: it must see B committed (or not at all)
    await asyncio.wait_for(unbinding, timeout=10)
    assert await routable(bus, REVOKED)


async def test_reconcile_at_start_restores_a_lost_binding_and_drops_a_stale_one(webhooks):
    settings, pool, bus, found = webhooks
    await create(pool, found, [GRANTED])
    await bus.unbind(found.queue, [GRANTED])  # e.g. bound by a transaction that failed, or lost
    await bus.bind(found.queue, [REVOKED, "#"])  # e.g. a crash between a commit and its unbinding
    assert await routable(bus, "billing.order.created")  # through the stale "#"
    assert await found.reconcile() == [GRANTED]
    assert await routable(bus, GRANTED)
    assert not await routable(bus, REVOKED) and not await routable(bus, "billing.order.created")


async def test_the_sink_makes_an_event_no_one_wants_routable(webhooks):
    settings, pool, bus, found = webhooks
    assert not await routable(bus, SENT)
    await bus.declare_unrouted_sink()
    assert await routable(bus, SENT)
    sink = await bus.channel.declare_queue(settings.unrouted_queue_name, durable=True, arguments={"x-max-length": 0})
    assert sink.declaration_result.message_count == 0  # it keeps nothing
