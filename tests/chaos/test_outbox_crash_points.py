"""Outbox crash points, small: membership dies before commit, after commit, and after the broker
confirmed but before the outbox row is deleted; no state without its event, no event without state."""

from tests.chaos import scenarios


async def test_crashes_at_every_outbox_point_leave_no_state_without_event_nor_event_without_state(chaos):
    outcome = await scenarios.outbox_crash_points(chaos, commands=80, crashes_each=2, budget=60)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome
    assert all(f"{point} 0" not in outcome.scenario for point in scenarios.OUTBOX_POINTS), outcome  # all hit
