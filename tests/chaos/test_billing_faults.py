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

