"""The set-password and reset links travel sealed in auth's events (shared/sealing.py): notify opens
them only to render the email; one it cannot open (another key, altered, moved to another login's
event) holds the message with the reason, listed where held messages are, and nothing is sent. A
version 1 event (plain link) left in notify's queue by the auth an upgrade replaced is still sent."""

import asyncio
import uuid
from datetime import datetime, timezone

import aio_pika

from shared.events import Envelope
from shared.events.auth import CredentialsIssued, CredentialsIssuedV1, PasswordResetRequested
from shared.sealing import LinkKeys, link_context, new_key_entry
from tests.conftest import eventually, seal_link
from tests.e2e.notify.conftest import ADMIN, credentials_issued, known_contact, publish


async def held_reason(gateway, contact) -> str:
    async def listed():
        async with gateway.get("/admin/api/messages", params={"contact_id": str(contact["contact_id"])}, headers=ADMIN) as r:
            assert r.status == 200
            found = (await r.json())["messages"]
        return found[0] if found and found[0]["status"] == "held" else None

    message = await eventually(listed, message="the held message in /admin/api/messages")
    assert message["template"] in ("welcome", "password_reset")
    assert "token" not in str(message)
    return message["reason"]


async def test_a_link_sealed_with_a_key_notify_lacks_is_held_with_the_key_named(gateway, demo_site, amqp, bus_prefix, db, smtp):
    contact = await known_contact(amqp, bus_prefix, db, demo_site)
    stranger = LinkKeys.parse(new_key_entry("elsewhere"))
    event = credentials_issued(contact, demo_site)
    sealed = stranger.seal("http://127.0.0.1:8080/password/set?token=tok-elsewhere", context=link_context(event.routing_key, event.login_id))
    await publish(amqp, bus_prefix, event.model_copy(update={"set_password_link": sealed}), producer="auth")
    reason = await held_reason(gateway, contact)
    assert reason.startswith("the sealed set_password_url could not be opened: it was sealed with key 'elsewhere'")
    assert "'test'" in reason  # the key notify has, so an operator sees the mismatch
    await asyncio.sleep(0.5)
    assert smtp.to(contact["email"]) == []


async def test_an_altered_or_moved_link_is_held_and_never_sent(gateway, demo_site, amqp, bus_prefix, db, smtp):
    good = credentials_issued(await known_contact(amqp, bus_prefix, db, demo_site), demo_site).set_password_link
    head, body = good.rsplit(".", 1)
    flipped = head + "." + body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:]
    cases = {
        "altered": flipped,
        "moved from another login's event": good,  # sealed for another login_id: the associated data differs
        "moved from a reset event": None,
        "not sealed at all": "not-a-sealed-value",
    }
    for what, link in cases.items():
        contact = await known_contact(amqp, bus_prefix, db, demo_site)
        event = credentials_issued(contact, demo_site)
        if link is None:
            link = seal_link(PasswordResetRequested, event.login_id, "http://127.0.0.1:8080/password/set?token=tok-reset")
        await publish(amqp, bus_prefix, event.model_copy(update={"set_password_link": link}), producer="auth")
        reason = await held_reason(gateway, contact)
        assert reason.startswith("the sealed set_password_url could not be opened: it "), (what, reason)
        expected = "not a sealed value" if what == "not sealed at all" else "does not authenticate under key 'test'"
        assert expected in reason, (what, reason)
        assert smtp.to(contact["email"]) == [], what


async def test_a_blank_sealed_link_is_held_as_a_missing_field(gateway, demo_site, amqp, bus_prefix, db, smtp):
    """Blank in the event, or sealed but blank inside: the template's required-field check holds both."""
    contact = await known_contact(amqp, bus_prefix, db, demo_site)
    absent = credentials_issued(contact, demo_site).model_copy(update={"set_password_link": ""})
    login_id = uuid.uuid4()
    blank_inside = credentials_issued(contact, demo_site, login_id=login_id).model_copy(
        update={"set_password_link": seal_link(CredentialsIssued, login_id, "  ")}
    )
    for event in (absent, blank_inside):
        await publish(amqp, bus_prefix, event, producer="auth")

    async def both_held():
        rows = await db.fetch("SELECT status, reason FROM notify.messages WHERE contact_id = $1", contact["contact_id"])
        return rows if len(rows) == 2 else None

    rows = await eventually(both_held, message="two held messages")
    assert [r["status"] for r in rows] == ["held", "held"]
    assert {r["reason"] for r in rows} == {"missing or blank merge field(s): set_password_url"}
    await asyncio.sleep(0.5)
    assert smtp.to(contact["email"]) == []


async def test_a_version_1_event_left_in_the_queue_by_an_upgrade_is_still_sent(demo_site, amqp, bus_prefix, db, smtp, system):
    """Straight into notify's queue (as if it had waited there since before the upgrade): nothing publishes
    a version 1 event any more, so it is not on the exchange (whose every event the secrets scan reads)."""
    contact = await known_contact(amqp, bus_prefix, db, demo_site)
    link = f"http://127.0.0.1:8080/password/set?token=tok-v1-{uuid.uuid4().hex}"
    legacy = CredentialsIssuedV1(
        login_id=uuid.uuid4(), contact_id=contact["contact_id"], site_id=demo_site["id"], site_slug=demo_site["slug"],
        site_name=demo_site["name"], program_name="Members", level_name="Gold", email=contact["email"],
        first_name=contact["first_name"], username=contact["email"], set_password_url=link,
        expires_at=datetime(2031, 1, 2, 3, 4, tzinfo=timezone.utc),
    )
    envelope = Envelope.wrap(legacy, producer="auth", correlation_id="test-" + uuid.uuid4().hex)
    assert envelope.version == 1
    channel = await amqp.channel()
    try:
        await channel.default_exchange.publish(
            aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=f"{bus_prefix}notify.events",
        )
    finally:
        await channel.close()
    message = (await smtp.wait_for(contact["email"]))[0]
    assert link in message.get_body(("plain",)).get_content()
    logs = (system.log_dir / "notify.log").read_text()
    assert "email.plaintext_link_event" in logs and link not in logs
