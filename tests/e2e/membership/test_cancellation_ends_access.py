"""Billing's cancellations, suspensions and completions end (or keep) the right grant."""

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from tests.conftest import eventually
from tests.e2e.membership.billing_events import order_completed, order_suspended, payment_succeeded, subscription_cancelled
from tests.e2e.membership.conftest import publish, set_password_from_welcome, wait_for_grants


async def monthly_site(admin):
    program = await admin.ok("POST", "/admin/api/programs", {"name": "Club"})
    monthly = await admin.level(program["id"], "Monthly")
    await admin.ok("POST", "/admin/api/pages", {"path": "/club/videos", "level_ids": [monthly]})
    product = uuid.uuid4()
    await admin.ok("POST", "/admin/api/rules", {"product_id": str(product), "level_id": monthly})
    return product


def at(moment: datetime) -> str:
    return quote(moment.isoformat())


async def test_cancel_at_period_end_keeps_access_until_the_paid_period_ends_and_records_it(
    new_site, gateway, amqp, bus_prefix, smtp, events
):
    admin = await new_site()
    product = await monthly_site(admin)
    await admin.ok(
        "PATCH", "/admin/api/site",
        {"cancellation_fields": {"who": "cancelled_by", "when": "cancelled_on", "reason": "cancel_reason"}},
    )
    contact = await admin.contact()
    paid = payment_succeeded(
        admin.site_id, contact["id"], product, paid_at=datetime.now(timezone.utc) - timedelta(days=10), period_days=30
    )
    await publish(amqp, bus_prefix, paid)
    await wait_for_grants(admin, contact["id"], 1)
    await set_password_from_welcome(gateway, smtp, contact["email"], admin.slug)

    cancelled = subscription_cancelled(paid, reason="Too busy this year")
    await publish(amqp, bus_prefix, cancelled)

    async def recorded():
        found = await admin.ok("GET", f"/admin/api/contacts/{contact['id']}")
        return found if found["fields"].get("cancel_reason") else None

    found = await eventually(recorded, message="the cancellation fields")
    assert found["fields"]["cancelled_by"] == "contact"
    assert found["fields"]["cancel_reason"] == "Too busy this year"
    assert datetime.fromisoformat(found["fields"]["cancelled_on"]) == cancelled.cancelled_at
    [grant] = found["grants"]
    assert datetime.fromisoformat(grant["ends_at"]) == paid.period_end
    [revoked] = events.of("membership.revoked", contact_id=contact["id"])
    assert revoked["payload"]["grant_id"] == grant["id"]

    # Until the paid period ends the page opens; after it, it does not, and the answer says why.
    before = await admin.access(contact["id"], page="/club/videos", as_of=at(paid.period_end - timedelta(minutes=1)))
    assert before["allowed"] is True, before
    now = await admin.access(contact["id"], page="/club/videos")
    assert now["allowed"] is True, now
    after = await admin.access(contact["id"], page="/club/videos", as_of=at(paid.period_end + timedelta(minutes=1)))
    assert after["allowed"] is False
    codes = {r["code"]: r for r in after["reasons"]}
    assert "no_level_for_page" in codes
    ended = codes["grant_ended"]
    assert datetime.fromisoformat(ended["details"]["ended_at"]) == paid.period_end
    assert "cancelled" in ended["details"]["why"] and "Too busy this year" in ended["message"]

    # The field definitions the setting needs exist, typed.
    fields = {f["name"]: f for f in (await admin.ok("GET", "/admin/api/fields"))["items"]}
    assert (fields["cancelled_on"]["type"], fields["cancelled_by"]["type"], fields["cancel_reason"]["type"]) == ("date", "choice", "text")


async def test_a_suspended_order_ends_its_grant_now_and_only_that_one(new_site, amqp, bus_prefix):
    admin = await new_site()
    product = await monthly_site(admin)
    other_program = await admin.ok("POST", "/admin/api/programs", {"name": "Extras"})
    extra = await admin.level(other_program["id"], "Extra")
    contact = await admin.contact(level_id=extra)  # a manual grant that the order has nothing to do with
    paid = payment_succeeded(admin.site_id, contact["id"], product)
    await publish(amqp, bus_prefix, paid)
    await wait_for_grants(admin, contact["id"], 2)

    await publish(amqp, bus_prefix, order_suspended(paid))

    async def ended():
        grants = (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"]
        return grants if any(g["ends_at"] for g in grants) else None

    grants = {g["level"]: g for g in await eventually(ended, message="the suspended order's grant ending")}
    assert grants["Extra"]["ends_at"] is None
    assert datetime.fromisoformat(grants["Monthly"]["ends_at"]) <= datetime.now(timezone.utc)
    assert "suspended" in grants["Monthly"]["ended_reason"]
    answer = await admin.access(contact["id"], page="/club/videos")
    assert answer["allowed"] is False and "grant_ended" in {r["code"] for r in answer["reasons"]}


async def test_a_completed_payment_plan_keeps_its_grant(new_site, amqp, bus_prefix, db):
    admin = await new_site()
    product = await monthly_site(admin)
    contact = await admin.contact()
    paid = payment_succeeded(admin.site_id, contact["id"], product, period_days=30)
    await publish(amqp, bus_prefix, paid)
    await wait_for_grants(admin, contact["id"], 1)
    envelope = await publish(amqp, bus_prefix, order_completed(paid))

    async def consumed():
        return await db.fetchval("SELECT 1 FROM membership.inbox WHERE event_id = $1", envelope.id)

    await eventually(consumed)
    [grant] = (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"]
    assert grant["ends_at"] is None
    later = await admin.access(contact["id"], page="/club/videos", as_of=at(datetime.now(timezone.utc) + timedelta(days=400)))
    assert not {"no_level_for_page", "grant_ended"} & {r["code"] for r in later["reasons"]}


async def test_buying_again_after_the_paid_period_ended_grants_the_level_again(new_site, amqp, bus_prefix):
    admin = await new_site()
    product = await monthly_site(admin)
    contact = await admin.contact()
    first = payment_succeeded(
        admin.site_id, contact["id"], product, paid_at=datetime.now(timezone.utc) - timedelta(days=40), period_days=30
    )
    await publish(amqp, bus_prefix, first)
    await wait_for_grants(admin, contact["id"], 1)
    await publish(amqp, bus_prefix, subscription_cancelled(first, reason="pause"))

    async def ended():
        [grant] = (await admin.ok("GET", f"/admin/api/contacts/{contact['id']}"))["grants"]
        return grant["ends_at"]

    await eventually(ended, message="the first grant ending")
    gone = await admin.access(contact["id"], page="/club/videos")
    assert "grant_ended" in {r["code"] for r in gone["reasons"]}

    await publish(amqp, bus_prefix, payment_succeeded(admin.site_id, contact["id"], product))
    grants = await wait_for_grants(admin, contact["id"], 2)
    assert [g["ends_at"] is None for g in grants] == [False, True]
    back = await admin.access(contact["id"], page="/club/videos")
    assert not {"no_level_for_page", "grant_ended"} & {r["code"] for r in back["reasons"]}


async def test_a_cancellation_that_arrives_before_its_payment_still_ends_the_grant(new_site, amqp, bus_prefix, db):
    admin = await new_site()
    product = await monthly_site(admin)
    contact = await admin.contact()
    paid = payment_succeeded(admin.site_id, contact["id"], product, period_days=30)
    cancelled = await publish(amqp, bus_prefix, subscription_cancelled(paid, reason="changed my mind"))

    async def consumed():
        return await db.fetchval("SELECT 1 FROM membership.inbox WHERE event_id = $1", cancelled.id)

    await eventually(consumed, message="the cancellation consumed")
    await publish(amqp, bus_prefix, paid)
    [grant] = await wait_for_grants(admin, contact["id"], 1)
    assert datetime.fromisoformat(grant["ends_at"]) == paid.period_end
    assert "changed my mind" in grant["ended_reason"]
