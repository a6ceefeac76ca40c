"""Billing under faults, small: the billing worker SIGKILLed mid-run while the proxy loses answers
after the processor charged; PostgreSQL restarted during a run of the billing service."""

from tests.chaos import scenarios


async def test_killed_billing_worker_and_lost_answers_charge_every_order_exactly_once(chaos, chaos_db):
    outcome = await scenarios.billing_under_crashes(chaos, chaos_db, orders_count=300, kills=2, drop=0.05, budget=60)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome


async def test_database_restart_during_a_billing_run_charges_every_order_exactly_once(chaos):
    outcome = await scenarios.database_restart(chaos, chaos.database_url, orders_count=300, budget=60)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome


async def test_a_charge_whose_answer_was_lost_is_resolved_by_asking_the_processor_not_by_charging_again(chaos, chaos_db):
    import uuid

    import aiohttp

    from services.billing.charging import charge_once
    from services.billing.processor.sandbox import SandboxProcessor
    from tests.chaos.harness import DropProxy

    token = await scenarios.new_token(chaos)
    proxy = DropProxy(chaos.system.processes["sandbox"].port, drop_first=1)
    await proxy.start()
    key = f"chaos:{uuid.uuid4()}:1:1"
    try:
        async with aiohttp.ClientSession() as session:
            processor = SandboxProcessor(proxy.url, session)
            result = await charge_once(processor, token=token, amount=1900, currency="USD", key=key, description="x")
    finally:
        await proxy.close()
    assert proxy.dropped == 1
    assert result.outcome == "succeeded" and result.charge_id
    # One charge request (its answer lost), then one question: the card was charged once.
    assert proxy.requests == 2
    rows = await chaos_db.fetch("SELECT id FROM sandbox.charges WHERE idempotency_key = $1", key)
    assert [r["id"] for r in rows] == [result.charge_id]


async def test_a_batch_of_charges_whose_answer_was_lost_is_resolved_by_asking_about_each_key(chaos, chaos_db):
    import uuid

    import aiohttp

    from services.billing.charging import charge_all
    from services.billing.processor import ChargeRequest
    from services.billing.processor.sandbox import SandboxProcessor
    from tests.chaos.harness import DropProxy

    token = await scenarios.new_token(chaos)
    proxy = DropProxy(chaos.system.processes["sandbox"].port, drop_first=1)
    await proxy.start()
    keys = [f"chaos:{uuid.uuid4()}:1:{i}" for i in range(3)]
    try:
        async with aiohttp.ClientSession() as session:
            results = await charge_all(
                SandboxProcessor(proxy.url, session),
                [ChargeRequest(token=token, amount=1900, currency="USD", idempotency_key=k) for k in keys],
            )
    finally:
        await proxy.close()
    assert proxy.dropped == 1
    assert [r.outcome for r in results] == ["succeeded"] * 3
    # One batch request (its answer lost), then one question per charge: each card charged once.
    assert proxy.requests == 1 + len(keys)
    rows = await chaos_db.fetch("SELECT idempotency_key, id FROM sandbox.charges WHERE idempotency_key = ANY($1::text[])", keys)
    assert {r["idempotency_key"]: r["id"] for r in rows} == {k: r.charge_id for k, r in zip(keys, results)}
