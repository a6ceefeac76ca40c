import asyncio
import uuid

import aio_pika
import pytest

from shared.consumer import Consumer
from shared.db import UnitOfWork
from shared.events import Envelope
from tests.conftest import eventually
from tests.integration.shared.events import Pinged


async def publish(bus, body: bytes, routing_key: str = Pinged.routing_key) -> None:
    await bus.exchange.publish(
        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=routing_key
    )


def pinged(n: int) -> Envelope:
    return Envelope.wrap(Pinged(n=n), producer="test", correlation_id="c")


async def dead_letters(bus, settings) -> list[bytes]:
    queue = await bus.channel.declare_queue(settings.dead_letter_queue_name, passive=True)
    found = []
    while (message := await queue.get(fail=False, no_ack=True)) is not None:
        found.append(message.body)
    return found


async def test_each_event_is_applied_once_however_often_it_arrives(service):
    settings, pool, bus = service
    applied: list[int] = []

    async def record(event: Pinged, uow: UnitOfWork) -> None:
        applied.append(event.n)

    consumer = Consumer(settings, pool, bus, {Pinged: [record]})
    await consumer.start()
    try:
        envelope = pinged(7)
        for _ in range(3):
            await publish(bus, envelope.model_dump_json().encode())
        await eventually(
            lambda: pool.fetchval("SELECT count(*) = 1 FROM inbox WHERE event_id = $1", envelope.id), timeout=5
        )
        await asyncio.sleep(0.5)
    finally:
        await consumer.stop()
    assert applied == [7]


async def test_a_failing_handler_is_retried_and_its_effect_commits_once(service):
    settings, pool, bus = service
    calls: list[int] = []
    await pool.execute("CREATE TABLE effects (n int)")

    async def flaky(event: Pinged, uow: UnitOfWork) -> None:
        calls.append(event.n)
        await uow.conn.execute("INSERT INTO effects VALUES ($1)", event.n)
        if len(calls) < 3:
            raise ConnectionError("a dependency is briefly down")

    consumer = Consumer(settings, pool, bus, {Pinged: [flaky]})
    await consumer.start()
    try:
        await publish(bus, pinged(1).model_dump_json().encode())
        await eventually(lambda: asyncio.sleep(0, len(calls) == 3), timeout=10)
        await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1  # the failed attempts rolled back
    assert await dead_letters(bus, settings) == []


async def test_a_handler_that_always_fails_is_dead_lettered_after_the_delivery_limit(service):
    settings, pool, bus = service
    calls = 0

    async def broken(event: Pinged, uow: UnitOfWork) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bug")

    consumer = Consumer(settings, pool, bus, {Pinged: [broken]})
    await consumer.start()
    try:
        envelope = pinged(1)
        await publish(bus, envelope.model_dump_json().encode())
        dead = await eventually(lambda: dead_letters(bus, settings), timeout=15)
    finally:
        await consumer.stop()
    assert [Envelope.model_validate_json(b).id for b in dead] == [envelope.id]
    # The quorum queue's delivery limit: the first delivery plus `delivery_limit` redeliveries.
    assert calls == settings.delivery_limit + 1


async def test_poison_messages_go_straight_to_the_dead_letter_queue_and_the_rest_flow(service):
    settings, pool, bus = service
    applied: list[int] = []

    async def record(event: Pinged, uow: UnitOfWork) -> None:
        applied.append(event.n)

    consumer = Consumer(settings, pool, bus, {Pinged: [record]})
    await consumer.start()
    poison = [b"not json at all", b'{"id": "x"}', pinged(0).model_copy(update={"payload": {"n": "NaN"}}).model_dump_json().encode()]
    try:
        for n in range(10):
            await publish(bus, pinged(n).model_dump_json().encode())
            if n < len(poison):
                await publish(bus, poison[n])
        await eventually(lambda: asyncio.sleep(0, len(applied) == 10), timeout=10)
        dead: list[bytes] = []

        async def all_dead():
            dead.extend(await dead_letters(bus, settings))
            return len(dead) >= len(poison)

        await eventually(all_dead, timeout=5)
    finally:
        await consumer.stop()
    assert sorted(applied) == list(range(10))
    assert sorted(dead) == sorted(poison)


async def test_an_all_events_handler_gets_every_event_as_its_envelope_and_makes_it_routable(service):
    """``AllEvents`` in HANDLERS binds ``#``: any routing key reaches the handler, even an unknown type."""
    from shared.consumer import AllEvents
    from tests.integration.shared.events import Unheard

    settings, pool, bus = service
    typed: list[int] = []
    everything: list[tuple[str, object]] = []

    async def record(event: Pinged, uow: UnitOfWork) -> None:
        typed.append(event.n)

    async def record_all(envelope: Envelope, uow: UnitOfWork) -> None:
        everything.append((envelope.type, envelope.payload))

    consumer = Consumer(settings, pool, bus, {Pinged: [record], AllEvents: [record_all]})
    await consumer.start()
    try:
        unknown = Envelope(type="somewhere.else.happened", version=3, producer="test", correlation_id="c", payload={"x": 1})
        await publish(bus, pinged(5).model_dump_json().encode())
        # Mandatory publishing succeeds: the '#' binding makes a key nobody else binds routable.
        await bus.publish(Unheard.routing_key, Envelope.wrap(Unheard(n=6), producer="t", correlation_id="c").model_dump_json().encode(), message_id="m", correlation_id="c")
        await publish(bus, unknown.model_dump_json().encode(), routing_key=unknown.type)
        await eventually(lambda: asyncio.sleep(0, len(everything) == 3), timeout=5)
    finally:
        await consumer.stop()
    assert typed == [5]
    assert sorted(everything, key=lambda e: e[0]) == [
        ("somewhere.else.happened", {"x": 1}),
        ("test.pinged", {"n": 5}),
        ("test.unheard", {"n": 6}),
    ]
    assert await dead_letters(bus, settings) == []


async def backlog(bus, envelopes: list[Envelope]) -> None:
    """Messages waiting in the service's queue before its consumer starts: they arrive together."""
    await bus.declare_service_queue([Pinged.routing_key])
    for envelope in envelopes:
        await publish(bus, envelope.model_dump_json().encode())


async def test_a_backlog_is_applied_in_few_transactions_each_event_once(service):
    settings, pool, bus = service
    settings = settings.model_copy(update={"consumer_concurrency": 1, "consumer_batch": 50, "prefetch": 50})
    transactions: list[int] = []
    await pool.execute("CREATE TABLE effects (n int)")

    async def record(event: Pinged, uow: UnitOfWork) -> None:
        transactions.append(await uow.conn.fetchval("SELECT txid_current()"))
        await uow.conn.execute("INSERT INTO effects VALUES ($1)", event.n)

    envelopes = [pinged(n) for n in range(40)]
    await backlog(bus, envelopes + envelopes[:5])  # five of them twice, in the same batch or the next
    consumer = Consumer(settings, pool, bus, {Pinged: [record]})
    await consumer.start()
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) = 40 FROM inbox"), timeout=10)
        await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
    assert sorted(await pool.fetch("SELECT n FROM effects"), key=lambda r: r["n"]) == [(n,) for n in range(40)]
    assert len(set(transactions)) < 10  # batched: one commit for many events
    queue = await bus.channel.declare_queue(settings.queue_name, passive=True)
    assert await queue.get(fail=False, no_ack=True) is None  # all acked


async def test_a_failing_handler_in_a_batch_delays_only_its_own_event(service):
    settings, pool, bus = service
    settings = settings.model_copy(update={"consumer_concurrency": 1, "consumer_batch": 50, "prefetch": 50})
    failed: list[int] = []
    await pool.execute("CREATE TABLE effects (n int)")

    async def flaky_on_three(event: Pinged, uow: UnitOfWork) -> None:
        await uow.conn.execute("INSERT INTO effects VALUES ($1)", event.n)
        if event.n == 3 and len(failed) < 2:
            failed.append(event.n)
            raise ConnectionError("a dependency is briefly down")

    await backlog(bus, [pinged(n) for n in range(20)])
    consumer = Consumer(settings, pool, bus, {Pinged: [flaky_on_three]})
    await consumer.start()
    try:
        await eventually(lambda: pool.fetchval("SELECT count(*) = 20 FROM inbox"), timeout=10)
        await asyncio.sleep(0.3)
    finally:
        await consumer.stop()
    assert failed == [3, 3]  # in its batch, then alone; the redelivery applied it
    assert sorted(await pool.fetch("SELECT n FROM effects"), key=lambda r: r["n"]) == [(n,) for n in range(20)]
    assert await dead_letters(bus, settings) == []


async def test_what_follows_a_handlers_transaction_runs_after_its_commit_or_its_rollback(service):
    """``UnitOfWork.then``: the consumer awaits each settler with the outcome, after the commit (and
    before the ack) or after a rollback; a failed attempt's settler hears False, the retry's True."""
    settings, pool, bus = service
    await pool.execute("CREATE TABLE settled_effects (n int)")
    heard: list[tuple[int, bool, int]] = []

    async def remember(event: Pinged, uow: UnitOfWork) -> None:
        await uow.conn.execute("INSERT INTO settled_effects VALUES ($1)", event.n)

        async def settle(committed: bool) -> None:  # what the effect looks like from outside by then
            heard.append((event.n, committed, await pool.fetchval("SELECT count(*) FROM settled_effects WHERE n = $1", event.n)))

        uow.then(settle)
        if event.n == 2 and len([h for h in heard if h[0] == 2]) == 0:
            raise ConnectionError("the first attempt fails after its settler was registered")

    consumer = Consumer(settings, pool, bus, {Pinged: [remember]})
    await consumer.start()
    try:
        for n in (1, 2):
            await publish(bus, pinged(n).model_dump_json().encode())
        await eventually(lambda: asyncio.sleep(0, len(heard) == 3), timeout=10)
    finally:
        await consumer.stop()
    assert sorted(heard) == [(1, True, 1), (2, False, 0), (2, True, 1)]


async def test_a_unit_of_work_whose_owner_does_not_settle_it_refuses_a_settler(service):
    _, pool, _ = service
    async with pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn, producer="t", correlation_id="c", causation_id=None)
        with pytest.raises(RuntimeError):
            uow.then(lambda committed: asyncio.sleep(0))


async def test_begin_and_claim_answers_all_or_none_and_leaves_a_partial_claim_to_the_usual_path(service):
    """The batch's BEGIN and inbox claim in one round trip (``begin_and_claim``): the status of the
    INSERT tells all new from none new; some new (a retry after a partial failure) is handed back
    with nothing open. Handler names are written as literals: a quote in one stays a quote."""
    from shared.consumer import begin_and_claim, claim_inbox_many

    _, pool, _ = service
    event = uuid.uuid4()
    pairs = [(event, "tests.handler_a"), (event, "tests.it's_b")]
    async with pool.acquire() as conn:
        assert await begin_and_claim(conn, pairs) == set(pairs)
        assert conn.is_in_transaction()
        await conn.execute("ROLLBACK")  # nothing claimed after all
        assert await begin_and_claim(conn, pairs[:1]) == set(pairs[:1])
        await conn.execute("COMMIT")
        assert await begin_and_claim(conn, pairs[:1]) == set()  # applied before: the transaction is open, for nothing
        await conn.execute("COMMIT")
        assert await begin_and_claim(conn, pairs) is None
        assert not conn.is_in_transaction()
        async with conn.transaction():
            assert await claim_inbox_many(conn, pairs) == {pairs[1]}
        handlers = await conn.fetch("SELECT handler FROM inbox WHERE event_id = $1 ORDER BY handler", event)
    assert [r["handler"] for r in handlers] == ["tests.handler_a", "tests.it's_b"]
