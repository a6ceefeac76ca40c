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
