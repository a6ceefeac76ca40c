"""The express lane (services/notify/delivery.py, ``Beginning``): an email queued by a transaction is
begun on an idle SMTP session inside it and ended as soon as it commits, without the delivery
worker; whatever does not get that far leaves the worker to send it, and never a copy."""

import asyncio
import uuid

import asyncpg
import pytest

from services.notify.delivery import Delivery, ExpressLane
from services.notify.email import queue_email
from services.notify.settings import NotifySettings
from shared.db import UnitOfWork, unit_of_work
from tests.integration.notify.test_end_of_data_window import notify_tables, queue, server  # noqa: F401 (a fixture)

SCHEMA = "notify_express"  # tables of this test's own: the suite's running notify never claims these


@pytest.fixture
async def pool(database_url):
    async with notify_tables(database_url, SCHEMA) as pool:
        yield pool


@pytest.fixture
async def lane(database_url, server, pool):
    """A running delivery with one idle SMTP session (from a first message, sent by the worker)."""
    settings = NotifySettings(service=SCHEMA, database_url=database_url, smtp_host="127.0.0.1",
                              smtp_port=server.controller.port, smtp_express_seconds=0.25)
    delivery = Delivery(settings, pool)
    await queue(pool, "first@example.org")
    while await delivery.work_once():
        pass
    assert server.received == ["first@example.org"]
    lane = ExpressLane()
    lane.delivery = delivery
    yield lane
    await delivery.smtp.close()
    await delivery.recorder.close()


async def queue_in(uow: UnitOfWork, lane: ExpressLane, to: str) -> uuid.UUID:
    """What a handler does: queue an email in the event's unit of work."""
    return await queue_email(
        uow, lane.delivery.settings, template_name="password_changed", to=to, site_id=uuid.uuid4(), contact_id=None,
        fields={"first_name": "Ann", "site_name": "Demo", "changed_at": "today", "forgot_password_url": "https://x/f"},
        express=lane,
    )


async def message(pool, message_id) -> asyncpg.Record | None:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT m.status, m.attempts, m.uncertain_resends, m.sending_at, m.end_of_data_at, o.message_id AS body"
            " FROM messages m LEFT JOIN outgoing o ON o.message_id = m.id WHERE m.id = $1", message_id)


async def test_an_email_queued_in_a_transaction_is_taken_by_the_server_when_it_commits(pool, server, lane):
    async with unit_of_work(pool, producer="notify", correlation_id="c-1", causation_id=uuid.uuid4()) as uow:
        message_id = await queue_in(uow, lane, "now@example.org")
        assert server.received == ["first@example.org"]  # not before the commit
    # No worker ran: the transaction's owner ended the message right after its commit.
    assert server.received == ["first@example.org", "now@example.org"]
    row = await message(pool, message_id)
    assert (row["status"], row["attempts"], row["uncertain_resends"], row["body"]) == ("sent", 1, 0, None)
    assert row["sending_at"] <= row["end_of_data_at"]
    async with pool.acquire() as conn:
        sent = await conn.fetchval("SELECT count(*) FROM outbox WHERE routing_key = 'notify.email.sent'"
                                   " AND envelope->'payload'->>'message_id' = $1", str(message_id))
    assert sent == 1


async def test_a_transaction_that_rolls_back_sends_nothing_and_the_session_is_dropped(pool, server, lane):
    with pytest.raises(RuntimeError):
        async with unit_of_work(pool, producer="notify", correlation_id="c-2", causation_id=uuid.uuid4()) as uow:
            message_id = await queue_in(uow, lane, "never@example.org")
            raise RuntimeError("the handler failed after queueing")
    await asyncio.sleep(0.1)
    assert server.received == ["first@example.org"]
    assert await message(pool, message_id) is None
    assert lane.delivery.smtp.take_fresh() is None  # the session it had begun on was closed, not pooled


async def test_a_server_slower_than_the_lane_allows_leaves_the_message_to_the_worker(pool, server, lane):
    server.rcpt_delay = 0.5  # longer than smtp_express_seconds (0.25): the transaction does not wait for it
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with unit_of_work(pool, producer="notify", correlation_id="c-3", causation_id=uuid.uuid4()) as uow:
        message_id = await queue_in(uow, lane, "slow@example.org")
    assert loop.time() - started < 0.45
    assert (await message(pool, message_id))["status"] == "queued"
    while await lane.delivery.work_once():
        pass
    assert server.received == ["first@example.org", "slow@example.org"]
    row = await message(pool, message_id)
    assert (row["status"], row["uncertain_resends"]) == ("sent", 0)


async def test_an_event_delivered_again_queues_and_sends_its_email_once(pool, server, lane):
    event_id = uuid.uuid4()
    for _ in range(2):
        async with unit_of_work(pool, producer="notify", correlation_id="c-4", causation_id=event_id) as uow:
            message_id = await queue_in(uow, lane, "once@example.org")
    while await lane.delivery.work_once():
        pass
    assert server.received == ["first@example.org", "once@example.org"]
    assert (await message(pool, message_id))["status"] == "sent"


async def test_a_unit_of_work_nobody_settles_goes_through_the_worker(pool, server, lane):
    async with pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn, producer="notify", correlation_id="c-5", causation_id=uuid.uuid4())
        message_id = await queue_in(uow, lane, "worker@example.org")
    assert (await message(pool, message_id))["status"] == "queued"
    while await lane.delivery.work_once():
        pass
    assert server.received == ["first@example.org", "worker@example.org"]
