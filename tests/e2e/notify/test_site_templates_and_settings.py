"""A site's own templates and sender, through the admin API; the messages log; notify's own events."""

import json
import uuid
from datetime import datetime, timezone

import aio_pika

from shared.events.billing import Money, PaymentSucceeded
from shared.events.notify import EmailHeld, EmailSent
from tests.conftest import eventually
from tests.e2e.notify.conftest import ADMIN, credentials_issued, known_contact, publish


def receipt(site_id, contact_id, product_name="Yoga Course") -> PaymentSucceeded:
    now = datetime.now(timezone.utc)
    return PaymentSucceeded(
        payment_id=uuid.uuid4(), order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), contact_id=contact_id,
        site_id=site_id, product_id=uuid.uuid4(), product_name=product_name, kind="one_time",
        amount=Money(amount=2500, currency="GBP"), card_brand="Visa", card_last4="4242",
        period_start=now, period_end=None, sequence=1, paid_at=now,
    )


async def test_an_admin_override_is_used_refused_with_an_undeclared_field_and_deleted_back_to_default(
    gateway, demo_site, amqp, bus_prefix, db, smtp
):
    async with gateway.get("/admin/api/templates", headers=ADMIN) as r:
        assert r.status == 200
        listed = {t["name"]: t for t in (await r.json())["templates"]}
    assert {"welcome", "password_reset", "payment_succeeded", "payment_failed", "subscription_cancelled",
            "payment_plan_completed", "card_expiring", "username_changed", "password_changed"} <= set(listed)
    assert "receipt_url" in listed["payment_succeeded"]["merge_fields"]

    bad = {"subject": "Paid", "text": "{{ amount }} thanks, your password is {{ password }}", "html": "<p>{{ amount }}</p>"}
    async with gateway.put("/admin/api/templates/payment_succeeded", json=bad, headers=ADMIN) as r:
        assert r.status == 422
        error = (await r.json())["error"]
    assert error["code"] == "undeclared_merge_field" and "password" in error["message"]
    assert error["details"]["undeclared"] == ["password"] and "password" in error["details"]["fields"]["text"]

    sneaky = {"subject": "x", "text": "{{ amount.__class__.__mro__ }}", "html": "<p>x</p>"}
    async with gateway.put("/admin/api/templates/payment_succeeded", json=sneaky, headers=ADMIN) as r:
        assert r.status == 422, await r.text()

    mine = {
        "subject": "Thanks for {{ product_name }}!",
        "text": "Dear {{ first_name }}, {{ amount }} received. Receipt: {{ receipt_url }}\n",
        "html": "<p>Dear {{ first_name }}, {{ amount }} received. <a href=\"{{ receipt_url }}\">Receipt</a></p>",
    }
    async with gateway.put("/admin/api/templates/payment_succeeded", json=mine, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["customized"] is True
    async with gateway.put(
        "/admin/api/email-settings",
        json={"mail_from": "Demo Academy <hello@demo-academy.example>", "reply_to": "help@demo-academy.example"},
        headers=ADMIN,
    ) as r:
        assert r.status == 200, await r.text()
    try:
        contact = await known_contact(amqp, bus_prefix, db, demo_site, first_name="Ivy")
        await publish(amqp, bus_prefix, receipt(demo_site["id"], contact["contact_id"]), producer="billing")
        [msg] = await smtp.wait_for(contact["email"])
        assert msg["Subject"] == "Thanks for Yoga Course!"
        assert "Dear Ivy, £25.00 received." in msg.get_body(("plain",)).get_content()
        assert msg["From"] == "Demo Academy <hello@demo-academy.example>"
        assert msg["Reply-To"] == "help@demo-academy.example"
    finally:
        async with gateway.delete("/admin/api/templates/payment_succeeded", headers=ADMIN) as r:
            assert r.status == 200
            assert (await r.json())["customized"] is False
        async with gateway.put("/admin/api/email-settings", json={}, headers=ADMIN) as r:
            assert r.status == 200

    contact = await known_contact(amqp, bus_prefix, db, demo_site, first_name="Ivy")
    await publish(amqp, bus_prefix, receipt(demo_site["id"], contact["contact_id"]), producer="billing")
    [msg] = await smtp.wait_for(contact["email"])
    assert msg["Subject"] == "Your receipt from Demo Academy: £25.00 for Yoga Course"
    assert msg["Reply-To"] is None


async def test_email_settings_refuse_an_invalid_address(gateway):
    async with gateway.put("/admin/api/email-settings", json={"mail_from": "not an address"}, headers=ADMIN) as r:
        assert r.status == 422
        assert "mail_from" in (await r.json())["error"]["details"]["fields"]


async def listen(amqp, bus_prefix, *keys):
    channel = await amqp.channel()
    exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
    queue = await channel.declare_queue(exclusive=True)
    for key in keys:
        await queue.bind(exchange, routing_key=key)
    received: list[dict] = []

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        async with message.process():
            received.append(json.loads(message.body))

    await queue.consume(on_message)
    return channel, received


async def test_messages_list_what_was_sent_or_held_and_why_and_notify_publishes_both(
    gateway, demo_site, amqp, bus_prefix, db, smtp
):
    channel, events = await listen(amqp, bus_prefix, EmailSent.routing_key, EmailHeld.routing_key)
    try:
        contact = await known_contact(amqp, bus_prefix, db, demo_site)
        await publish(amqp, bus_prefix, credentials_issued(contact, demo_site), producer="auth")
        await publish(amqp, bus_prefix, receipt(demo_site["id"], contact["contact_id"], product_name="  "), producer="billing")
        await smtp.wait_for(contact["email"])

        async def both_listed():
            async with gateway.get("/admin/api/messages", params={"contact_id": str(contact["contact_id"])}, headers=ADMIN) as r:
                assert r.status == 200
                found = (await r.json())["messages"]
            return found if len(found) == 2 and all(m["status"] not in ("queued", "sending") for m in found) else None

        messages = {m["template"]: m for m in await eventually(both_listed, message="two messages")}
        assert messages["welcome"]["status"] == "sent" and messages["welcome"]["reason"] is None
        assert messages["payment_succeeded"]["status"] == "held"
        assert messages["payment_succeeded"]["reason"] == "missing or blank merge field(s): product_name"
        for message in messages.values():
            assert not {"text", "html", "body", "mime"} & set(message)
            assert "token" not in str(message)

        async def published():
            mine = {e["type"]: e["payload"] for e in events if e["payload"]["contact_id"] == str(contact["contact_id"])}
            return mine if len(mine) == 2 else None

        mine = await eventually(published, message="notify.email.sent and notify.email.held")
        assert mine["notify.email.sent"]["template"] == "welcome"
        assert mine["notify.email.held"]["template"] == "payment_succeeded"
        assert "product_name" in mine["notify.email.held"]["reason"]
    finally:
        await channel.close()

    # Paginated: one per page, newest first, the cursor leads to the rest.
    async with gateway.get("/admin/api/messages", params={"limit": "1"}, headers=ADMIN) as r:
        first = await r.json()
    assert len(first["messages"]) == 1 and first["next_cursor"]
    async with gateway.get("/admin/api/messages", params={"limit": "1", "cursor": first["next_cursor"]}, headers=ADMIN) as r:
        second = await r.json()
    assert len(second["messages"]) == 1 and second["messages"][0]["id"] != first["messages"][0]["id"]
    assert second["messages"][0]["created_at"] <= first["messages"][0]["created_at"]
