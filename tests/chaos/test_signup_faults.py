"""Signups flowing to welcome emails, small: the consumers SIGKILLed at random moments; RabbitMQ
stopped and started under the running services."""

from tests.chaos import scenarios


async def test_signups_reach_exactly_one_welcome_email_each_while_consumers_are_killed(chaos, chaos_smtp):
    kills = 2
    outcome = await scenarios.consumer_killed(chaos, chaos_smtp, signups_count=100, kills_each=kills, spread=4)
    print(outcome)
    assert (outcome.lost, outcome.blank) == (0, 0), outcome
    # SMTP's own at-least-once window: a notify killed between the end of an email's DATA and the
    # commit of its 250 sends it again, same Message-ID (docs/reliability.md). Each kill of notify can
    # catch at most the emails in that window at that instant (up to 5 at once).
    assert outcome.duplicated <= kills * 5, outcome


async def test_services_consume_again_after_a_broker_restart_without_restarting(chaos, chaos_smtp):
    # blank counts a service that restarted or took over 30 s to consume again after the broker's start.
    outcome = await scenarios.broker_restart(chaos, chaos_smtp, signups_count=80, restarts=1, spread=2)
    print(outcome)
    assert (outcome.lost, outcome.duplicated, outcome.blank) == (0, 0, 0), outcome
