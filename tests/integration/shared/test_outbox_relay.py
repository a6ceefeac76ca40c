import asyncio
import json
import uuid

import aio_pika
import pytest

from shared.bus import Unroutable
from shared.db import unit_of_work
from shared.outbox import OutboxRelay
from tests.conftest import eventually
from tests.integration.shared.events import Pinged, Unheard


async def listen(bus, routing_key: str):
    """A private exclusive queue bound to one routing key; returns it and the list it fills."""
    queue = await bus.channel.declare_queue(exclusive=True)
    await queue.bind(bus.exchange, routing_key=routing_key)
    received: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def on_message(message):
        async with message.process():
            received.append(message)

    await queue.consume(on_message)
    return queue, received


async def test_committed_events_are_published_and_rolled_back_ones_are_not(service):
    settings, pool, bus = service
    _, received = await listen(bus, Pinged.routing_key)
    relay = OutboxRelay(settings, pool, bus, settings.service)
    relay.start()
    try:
        async with unit_of_work(pool, producer="t", correlation_id="corr-ok") as uow:
            await uow.publish(Pinged(n=1))
            await uow.publish(Pinged(n=2))
        with pytest.raises(RuntimeError):
            async with unit_of_work(pool, producer="t", correlation_id="corr-rolled-back") as uow:
                await uow.publish(Pinged(n=3))
                raise RuntimeError("the effect failed")
        await eventually(lambda: asyncio.sleep(0, len(received) >= 2), timeout=5)
        await asyncio.sleep(0.5)
    finally:
        await relay.stop()
    bodies = [json.loads(m.body) for m in received]
    assert sorted(b["payload"]["n"] for b in bodies) == [1, 2]
    assert {b["correlation_id"] for b in bodies} == {"corr-ok"}
    assert all(m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT for m in received)
    assert all(m.message_id == b["id"] for m, b in zip(received, bodies))
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_rows_committed_while_no_relay_ran_are_published_when_it_starts(service):
    settings, pool, bus = service
    _, received = await listen(bus, Pinged.routing_key)
    for n in range(250):  # more than one batch
        async with unit_of_work(pool, producer="t", correlation_id="c") as uow:
            await uow.publish(Pinged(n=n))
    relay = OutboxRelay(settings, pool, bus, settings.service)
    relay.start()
    try:
        await eventually(lambda: asyncio.sleep(0, len(received) == 250), timeout=10)
    finally:
        await relay.stop()
    assert sorted(json.loads(m.body)["payload"]["n"] for m in received) == list(range(250))


async def test_an_unroutable_event_raises_and_stays_in_the_outbox(service):
    settings, pool, bus = service
    with pytest.raises(Unroutable):
        await bus.publish(Unheard.routing_key, b"{}", message_id=str(uuid.uuid4()), correlation_id="c")

    relay = OutboxRelay(settings, pool, bus, settings.service)
    relay.start()
    try:
        async with unit_of_work(pool, producer="t", correlation_id="c") as uow:
            await uow.publish(Unheard(n=1))

        async def retried():
            return await pool.fetchrow("SELECT attempts, last_error FROM outbox WHERE attempts > 0")

        row = await eventually(retried, timeout=5)
    finally:
        await relay.stop()
    assert row["last_error"] == "unroutable"
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_the_relay_is_woken_by_notify_not_by_polling(service):
    settings, pool, bus = service
    _, received = await listen(bus, Pinged.routing_key)
    slow_poll = settings.model_copy(update={"outbox_poll_seconds": 60.0})
    relay = OutboxRelay(slow_poll, pool, bus, settings.service)
    relay.start()
    try:
        await asyncio.sleep(0.5)  # the relay is idle, listening
        for n in range(3):
            started = asyncio.get_running_loop().time()
            async with unit_of_work(pool, producer="t", correlation_id="c") as uow:
                await uow.publish(Pinged(n=n))
            await eventually(lambda: asyncio.sleep(0, len(received) == n + 1), timeout=2, interval=0.005)
            assert asyncio.get_running_loop().time() - started < 1.0
    finally:
        await relay.stop()


async def test_publish_many_sends_what_publish_sends_and_answers_each_message(service):
    """The relay's batch publish: every message with publish's properties, in order, each with its
    own answer (an unroutable one among routable ones does not spoil the others), and a body larger
    than a frame split as aio-pika splits it."""
    settings, pool, bus = service
    _, received = await listen(bus, Pinged.routing_key)
    await bus.publish(Pinged.routing_key, b'{"one": 1}', message_id="single", correlation_id="corr-1")
    big = json.dumps({"pad": "x" * 300_000}).encode()  # more than frame_max (128 KiB)
    batch = [
        (Pinged.routing_key, b'{"n": 1}', "m-1", "corr-2"),
        (Unheard.routing_key, b'{"n": 2}', "m-2", "corr-2"),
        (Pinged.routing_key, big, "m-3", ""),
        (Pinged.routing_key, b'{"n": 4}', "m-4", "corr-2"),
    ]
    results = await bus.publish_many(batch)
    assert [type(r) for r in results] == [type(None), Unroutable, type(None), type(None)]
    await eventually(lambda: asyncio.sleep(0, len(received) == 4), timeout=5)
    assert [m.message_id for m in received] == ["single", "m-1", "m-3", "m-4"]
    assert received[2].body == big
    single, first = received[0], received[1]
    for field in ("delivery_mode", "content_type", "headers", "priority", "type"):
        assert getattr(first, field) == getattr(single, field), field
    assert (first.correlation_id, first.type, first.delivery_mode) == ("corr-2", Pinged.routing_key, aio_pika.DeliveryMode.PERSISTENT)
    # The channel's bookkeeping is left clean: a later single publish is confirmed as before.
    channel = await bus.channel.get_underlay_channel()
    assert not channel.confirmations and not channel.message_id_delivery_tag
    await bus.publish(Pinged.routing_key, b"{}", message_id="after", correlation_id="c")
    assert await bus.publish_many([]) == []
