"""Notify killed on either side of the SMTP "." that makes the server take a message: before it,
the resend is the only copy; after it (the server took it, notify had not recorded it), the message
is sent again with the same Message-ID: at least once, counted in ``uncertain_resends``."""

from tests.chaos import scenarios


async def test_a_notify_killed_before_the_end_of_data_delivers_the_email_once(chaos, chaos_smtp, chaos_db):
    seen = await scenarios.notify_killed_at(chaos, chaos_smtp, chaos_db, "notify.before_end_of_data")
    assert seen["died"] and seen["delivered_before_restart"] == 0, seen
    assert seen["received"] == 1, seen
    assert seen["record"]["status"] == "sent" and seen["record"]["uncertain_resends"] == 1, seen


async def test_a_notify_killed_after_the_server_took_the_email_sends_it_again_as_the_same_message(
    chaos, chaos_smtp, chaos_db
):
    seen = await scenarios.notify_killed_at(chaos, chaos_smtp, chaos_db, "notify.after_accepted")
    assert seen["died"] and seen["delivered_before_restart"] == 1, seen
    # The window SMTP leaves open: the copy is the same message (one Message-ID), never a new one.
    assert seen["received"] == 2 and len(seen["message_ids"]) == 1, seen
    assert seen["record"]["status"] == "sent" and seen["record"]["uncertain_resends"] == 1, seen
