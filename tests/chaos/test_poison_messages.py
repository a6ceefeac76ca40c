"""Poison messages, small: malformed events among good ones go to the dead-letter queue, the good
ones are applied, and the replay command re-applies a dead letter once its cause is fixed."""

from tests.chaos import scenarios


async def test_malformed_events_are_dead_lettered_and_a_fixed_one_is_replayed(chaos, chaos_db):
    outcome = await scenarios.poison_messages(chaos, chaos_db, total=120, poisoned=10)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome
