"""Buying a product grants a level (billing.payment.succeeded → rule → membership.granted →
auth.credentials.issued → one welcome email), with real events on the real broker."""

import json
import uuid

from tests.conftest import WELCOME_SUBJECT, eventually
from tests.e2e.helpers import welcome_fields
from tests.e2e.membership.billing_events import payment_succeeded
from tests.e2e.membership.conftest import publish, quiet, wait_for_grants


def welcome_emails(smtp, address):
    """Only the welcome emails: the payments also bring receipts (notify's payment_succeeded)."""
    return smtp.to(address, WELCOME_SUBJECT)


async def shop(admin):
    """A site selling two products: P grants Basic (Courses), Q grants Coaching (a second program)."""
    courses = await admin.ok("POST", "/admin/api/programs", {"name": "Courses"})
    coaching = await admin.ok("POST", "/admin/api/programs", {"name": "Coaching"})
    basic = await admin.level(courses["id"], "Basic")
    group = await admin.level(coaching["id"], "Group calls")
    p, q = uuid.uuid4(), uuid.uuid4()
    await admin.ok("POST", "/admin/api/rules", {"product_id": str(p), "level_id": basic})
    await admin.ok("POST", "/admin/api/rules", {"product_id": str(q), "level_id": group})
    await admin.ok("POST", "/admin/api/pages", {"path": "/courses", "level_ids": [basic]})
    await admin.ok("POST", "/admin/api/pages", {"path": "/calls", "level_ids": [group]})
    return {"p": p, "q": q, "basic": basic, "group": group}


async def test_buying_a_product_grants_its_level_and_sends_one_welcome_email(new_site, amqp, bus_prefix, smtp, events, db):
    admin = await new_site()
    products = await shop(admin)
    contact = await admin.contact(first_name="Pat")
    assert contact["grants"] == []

    paid = payment_succeeded(admin.site_id, contact["id"], products["p"])
    await publish(amqp, bus_prefix, paid)

    [grant] = await wait_for_grants(admin, contact["id"], 1)
    assert (grant["level"], grant["program"], grant["source"]) == ("Basic", "Courses", "rule")
    [msg] = await smtp.welcome(contact["email"])
    fields = welcome_fields(msg)
    assert fields["username"] == contact["email"] and "Basic" in fields["text"] and "Hello Pat" in fields["text"]
    [granted] = events.of("membership.granted", contact_id=contact["id"])
    assert granted["payload"]["source"] == "rule" and granted["payload"]["level_name"] == "Basic"

    # Later, a second product of another program: a second level, and no second set-password link.
    later = payment_succeeded(admin.site_id, contact["id"], products["q"])
    await publish(amqp, bus_prefix, later)
    grants = await wait_for_grants(admin, contact["id"], 2)
    assert {(g["program"], g["level"]) for g in grants} == {("Courses", "Basic"), ("Coaching", "Group calls")}

    async def auth_saw_both_grants():
        ids = [uuid.UUID(e["id"]) for e in events.of("membership.granted", contact_id=contact["id"])]
        return len(ids) == 2 and await db.fetchval("SELECT count(DISTINCT event_id) FROM auth.inbox WHERE event_id = ANY($1::uuid[])", ids) == 2

    await eventually(auth_saw_both_grants, message="auth consumed both membership.granted events")
    await quiet(1.5)
    assert len(welcome_emails(smtp, contact["email"])) == 1
    assert len(events.of("auth.credentials.issued", contact_id=contact["id"])) == 1
    assert await db.fetchval("SELECT count(*) FROM auth.logins WHERE contact_id = $1", uuid.UUID(contact["id"])) == 1

    # Both levels open their pages.
    for page in ("/courses", "/calls"):
        answer = await admin.access(contact["id"], page=page)
        assert [r["code"] for r in answer["reasons"] if r["code"] not in ("login_state_unknown", "password_not_set")] == []


async def test_redelivered_payment_grants_level_once(new_site, amqp, bus_prefix, smtp, events, db, log_dir):
    admin = await new_site()
    products = await shop(admin)
    contact = await admin.contact()
    paid = payment_succeeded(admin.site_id, contact["id"], products["p"])
    envelope = await publish(amqp, bus_prefix, paid)
    await publish(amqp, bus_prefix, envelope)  # the same message again, as a redelivery would bring it
    # And a renewal of the same order: the rule applies once per contact.
    renewal = await publish(
        amqp, bus_prefix, payment_succeeded(admin.site_id, contact["id"], products["p"], order_id=paid.order_id, sequence=2)
    )

    async def all_consumed():
        seen = await db.fetchval(
            "SELECT count(DISTINCT event_id) FROM membership.inbox WHERE event_id = ANY($1::uuid[])", [envelope.id, renewal.id]
        )
        duplicate = any(
            json.loads(line).get("event") == "consumer.duplicate_ignored" and json.loads(line).get("event_id") == str(envelope.id)
            for line in (log_dir / "membership.log").read_text().splitlines()
            if str(envelope.id) in line
        )
        return seen == 2 and duplicate

    await eventually(all_consumed, message="the payment, its redelivery and the renewal consumed")
    await smtp.welcome(contact["email"])
    await quiet(1.0)
    grants = (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"]
    assert len(grants) == 1
    assert len(events.of("membership.granted", contact_id=contact["id"])) == 1
    assert len(welcome_emails(smtp, contact["email"])) == 1


async def test_a_payment_for_a_product_without_a_rule_grants_nothing(new_site, amqp, bus_prefix, db):
    admin = await new_site()
    await shop(admin)
    contact = await admin.contact()
    envelope = await publish(amqp, bus_prefix, payment_succeeded(admin.site_id, contact["id"], uuid.uuid4()))

    async def consumed():
        return await db.fetchval("SELECT 1 FROM membership.inbox WHERE event_id = $1", envelope.id)

    await eventually(consumed)
    assert (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"] == []
