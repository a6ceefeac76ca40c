"""Signups flowing to welcome emails, small: the consumers SIGKILLed at random moments; RabbitMQ
stopped and started under the running services."""

from tests.chaos import scenarios


async def test_signups_reach_exactly_one_welcome_email_each_while_consumers_are_killed(chaos, chaos_smtp):
    outcome = await scenarios.consumer_killed(chaos, chaos_smtp, signups_count=150, kills_each=2, spread=8)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome


async def test_services_consume_again_after_a_broker_restart_without_restarting(chaos, chaos_smtp):
    # blank counts a service that restarted or took over 30 s to consume again after the broker's start.
    outcome = await scenarios.broker_restart(chaos, chaos_smtp, signups_count=150, restarts=1, spread=4)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome
