"""The billing run, played forward with ``as_of``: anniversary dates, dunning, plans, pauses."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from services.system import System
from tests.conftest import eventually, free_port
from tests.e2e.billing.conftest import (
    ADMIN, DECLINED, MONTHLY, PLAN, TRANSIENT, add_card, customer, get, patch_order, place_order, run_billing, tokenise,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


async def test_a_year_of_monthly_billing_from_the_31st_keeps_the_anniversary(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, card["token"]))["order"]
    start = utc(2028, 1, 31, 9, 30)  # 2028 is a leap year: Jan 31 → Feb 29 → Mar 31
    await patch_order(gateway, order["id"], {"next_billing_date": start.isoformat()})

    expected = [
        utc(2028, 1, 31, 9, 30), utc(2028, 2, 29, 9, 30), utc(2028, 3, 31, 9, 30), utc(2028, 4, 30, 9, 30),
        utc(2028, 5, 31, 9, 30), utc(2028, 6, 30, 9, 30), utc(2028, 7, 31, 9, 30), utc(2028, 8, 31, 9, 30),
        utc(2028, 9, 30, 9, 30), utc(2028, 10, 31, 9, 30), utc(2028, 11, 30, 9, 30), utc(2028, 12, 31, 9, 30),
    ]
    assert (await run_billing(gateway, start - timedelta(minutes=1), person["contact_id"]))["invoices_created"] == 0
    for due in expected:
        summary = await run_billing(gateway, due + timedelta(hours=2), person["contact_id"])
        assert (summary["invoices_created"], summary["succeeded"]) == (1, 1), (due, summary)
        again = await run_billing(gateway, due + timedelta(hours=3), person["contact_id"])
        assert again["invoices_created"] == again["charged"] == 0

    first_page = await get(gateway, "/api/invoices?limit=5", person["auth"])
    assert len(first_page["invoices"]) == 5 and first_page["next_offset"] == 5
    assert first_page["invoices"][0]["period_start"].startswith("2028-12-31")  # newest first
    invoices = (await get(gateway, "/api/invoices?status=all&limit=50", person["auth"]))["invoices"]
    played = sorted((i for i in invoices if i["sequence"] > 1), key=lambda i: i["sequence"])
    assert len(played) == 12
    assert [datetime.fromisoformat(i["period_start"]) for i in played] == expected
    assert [datetime.fromisoformat(i["period_end"]) for i in played] == expected[1:] + [utc(2029, 1, 31, 9, 30)]
    assert all(i["amount"] == {"amount": 1900, "currency": "USD"} and i["status"] == "paid" for i in played)

    payments = (await get(gateway, "/api/payments?limit=50", person["auth"]))["payments"]
    paid_invoices = [p["invoice_id"] for p in payments if p["status"] == "succeeded"]
    assert sorted(paid_invoices) == sorted(i["id"] for i in invoices)  # one payment per invoice
    assert len(paid_invoices) == len(set(paid_invoices)) == 13
    charges = await db.fetchval(
        "SELECT count(*) FROM sandbox.charges WHERE idempotency_key LIKE $1", f"order:{order['id']}:%"
    )
    assert charges == 13
    [now] = (await get(gateway, "/api/orders", person["auth"]))["orders"]
    assert datetime.fromisoformat(now["next_billing_date"]) == utc(2029, 1, 31, 9, 30)
    await billing_events.wait("billing.payment.succeeded", count=13, order_id=order["id"])


async def test_a_declined_renewal_is_retried_on_days_1_3_5_then_the_order_is_suspended(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    bad = (await add_card(gateway, person, DECLINED))["card"]
    due = utc(2030, 3, 10, 12)
    await patch_order(gateway, order["id"], {"card_id": bad["id"], "next_billing_date": due.isoformat()})

    summary = await run_billing(gateway, due, person["contact_id"])
    assert (summary["invoices_created"], summary["declined"]) == (1, 1)
    [unpaid] = (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"]
    assert datetime.fromisoformat(unpaid["next_retry_at"]) == due + timedelta(days=1)

    tried_at = [due]
    for day, next_day in ((1, 3), (3, 5), (5, None)):
        # Nothing happens before the retry is due.
        assert (await run_billing(gateway, due + timedelta(days=day, minutes=-1), person["contact_id"]))["charged"] == 0
        summary = await run_billing(gateway, due + timedelta(days=day), person["contact_id"])
        assert summary["declined"] == 1, summary
        tried_at.append(due + timedelta(days=day))

    failed = await billing_events.wait("billing.payment.failed", count=4, order_id=order["id"])
    retries = [e["payload"]["next_retry_at"] for e in sorted(failed, key=lambda e: e["payload"]["attempt"])]
    assert [datetime.fromisoformat(r) if r else None for r in retries] == [
        due + timedelta(days=1), due + timedelta(days=3), due + timedelta(days=5), None,
    ]
    [suspended] = await billing_events.wait("billing.order.suspended", order_id=order["id"])
    assert "card_declined" in suspended["payload"]["reason"]
    [now] = (await get(gateway, "/api/orders", person["auth"]))["orders"]
    assert now["status"] == "suspended"
    payments = [p for p in (await get(gateway, "/api/payments", person["auth"]))["payments"] if p["status"] == "failed"]
    assert sorted(datetime.fromisoformat(p["created_at"]) for p in payments) == tried_at
    assert (await run_billing(gateway, due + timedelta(days=40), person["contact_id"]))["charged"] == 0
    [still] = (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"]
    assert still["id"] == unpaid["id"]


async def test_paying_the_unpaid_invoice_from_the_customer_center_stops_the_retries(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    good_token = (await tokenise(gateway))["token"]
    order = (await place_order(gateway, person["contact_id"], MONTHLY, good_token))["order"]
    good_card = order["card"]
    bad = (await add_card(gateway, person, DECLINED))["card"]
    due = utc(2030, 6, 1, 8)
    await patch_order(gateway, order["id"], {"card_id": bad["id"], "next_billing_date": due.isoformat()})
    assert (await run_billing(gateway, due, person["contact_id"]))["declined"] == 1
    assert (await run_billing(gateway, due + timedelta(days=1), person["contact_id"]))["declined"] == 1
    [unpaid] = (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"]

    # With the declined card: refused, says why, the schedule is unchanged.
    async with gateway.post(f"/api/invoices/{unpaid['id']}/pay", json={"card_id": bad["id"]}, headers=person["auth"]) as r:
        assert r.status == 402 and (await r.json())["error"]["code"] == "card_declined"
    # Another contact cannot even see it.
    other = await customer(gateway, smtp, db)
    other_card = (await add_card(gateway, other))["card"]
    async with gateway.post(f"/api/invoices/{unpaid['id']}/pay", json={"card_id": other_card["id"]}, headers=other["auth"]) as r:
        assert r.status == 404

    async with gateway.post(f"/api/invoices/{unpaid['id']}/pay", json={"card_id": good_card["id"]}, headers=person["auth"]) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["invoice"]["status"] == "paid"
    assert (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"] == []
    for day in (3, 5, 9):
        assert (await run_billing(gateway, due + timedelta(days=day), person["contact_id"]))["charged"] == 0
    [now] = (await get(gateway, "/api/orders", person["auth"]))["orders"]
    assert now["status"] == "active"
    assert billing_events.of("billing.order.suspended", order_id=order["id"]) == []
    await billing_events.wait("billing.payment.succeeded", count=2, order_id=order["id"])
    # The next period is billed as usual (on the order's card, which the admin set to the declined one).
    await patch_order(gateway, order["id"], {"card_id": good_card["id"]})
    assert (await run_billing(gateway, due + timedelta(days=31), person["contact_id"]))["succeeded"] == 1


async def test_adding_a_card_while_an_invoice_is_unpaid_settles_it(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    bad = (await add_card(gateway, person, DECLINED))["card"]
    due = utc(2030, 9, 1, 8)
    await patch_order(gateway, order["id"], {"card_id": bad["id"], "next_billing_date": due.isoformat()})
    assert (await run_billing(gateway, due, person["contact_id"]))["declined"] == 1

    token = await tokenise(gateway, "5555555555554444")
    async with gateway.post("/api/cards", json={"token": token["token"]}, headers=person["auth"]) as r:
        assert r.status == 201
        added = await r.json()
    assert len(added["settled_invoices"]) == 1
    assert [o["id"] for o in added["card"]["orders"]] == [order["id"]]  # the order moved to the card that paid
    assert (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"] == []
    assert (await run_billing(gateway, due + timedelta(days=1), person["contact_id"]))["charged"] == 0


async def test_a_transient_processor_error_is_retried_sooner_and_charged_once(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    flaky = (await add_card(gateway, person, TRANSIENT))["card"]
    due = utc(2031, 1, 15, 8)
    await patch_order(gateway, order["id"], {"card_id": flaky["id"], "next_billing_date": due.isoformat()})
    summary = await run_billing(gateway, due, person["contact_id"])
    assert (summary["transient"], summary["declined"]) == (1, 0)
    assert (await run_billing(gateway, due + timedelta(minutes=59), person["contact_id"]))["charged"] == 0
    assert (await run_billing(gateway, due + timedelta(hours=1), person["contact_id"]))["succeeded"] == 1
    [payment] = [p for p in (await get(gateway, "/api/payments", person["auth"]))["payments"] if p["card"]["id"] == flaky["id"]]
    assert payment["status"] == "succeeded"
    key = await db.fetchval("SELECT idempotency_key FROM billing.payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert await db.fetchval("SELECT count(*) FROM sandbox.charges WHERE idempotency_key = $1", key) == 1


async def test_a_payment_plan_completes_after_its_last_installment_or_when_paid_off(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    token = (await tokenise(gateway))["token"]
    async with gateway.post(
        "/admin/api/products",
        json={"name": "Course in 6", "kind": "payment_plan", "price": {"amount": 2500, "currency": "USD"},
              "interval": "month", "installments": 6},
        headers=ADMIN,
    ) as r:
        six = (await r.json())["product"]["id"]
    plan6 = (await place_order(gateway, person["contact_id"], six, token))["order"]
    plan3 = (await place_order(gateway, person["contact_id"], PLAN, token))["order"]
    assert plan6["installments"]["summary"] == "1 of 6 paid, $125.00 left"
    due = utc(2032, 1, 5, 8)
    await patch_order(gateway, plan6["id"], {"next_billing_date": due.isoformat()})
    await patch_order(gateway, plan3["id"], {"next_billing_date": due.isoformat()})
    await run_billing(gateway, due, person["contact_id"])
    await run_billing(gateway, due + timedelta(days=31), person["contact_id"])
    orders = {o["id"]: o for o in (await get(gateway, "/api/orders", person["auth"]))["orders"]}
    assert orders[plan6["id"]]["installments"] == {
        "paid": 3, "total": 6, "left": {"amount": 7500, "currency": "USD"}, "summary": "3 of 6 paid, $75.00 left",
    }
    assert orders[plan3["id"]]["status"] == "completed" and orders[plan3["id"]]["next_billing_date"] is None
    [done] = await billing_events.wait("billing.order.completed", order_id=plan3["id"])
    assert done["payload"]["total"] == {"amount": 3 * 4900, "currency": "USD"} and done["payload"]["installments_paid"] == 3

    async with gateway.post(f"/api/orders/{plan6['id']}/pay-off", json={}, headers=person["auth"]) as r:
        assert r.status == 200, await r.text()
        paid_off = (await r.json())["order"]
    assert paid_off["status"] == "completed" and paid_off["installments"]["summary"] == "6 of 6 paid, $0.00 left"
    [done] = await billing_events.wait("billing.order.completed", order_id=plan6["id"])
    assert done["payload"]["total"] == {"amount": 6 * 2500, "currency": "USD"}
    assert (await run_billing(gateway, due + timedelta(days=400), person["contact_id"]))["charged"] == 0


async def test_cancel_at_period_end_or_now_and_pause_then_resume(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    token = (await tokenise(gateway))["token"]
    later = (await place_order(gateway, person["contact_id"], MONTHLY, token))["order"]
    now = (await place_order(gateway, person["contact_id"], MONTHLY, token))["order"]
    paused = (await place_order(gateway, person["contact_id"], MONTHLY, token))["order"]

    async with gateway.post(f"/api/orders/{later['id']}/cancel", json={"reason": "too expensive", "at": "period_end"}, headers=person["auth"]) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["order"]["cancel_at_period_end"] is True
    async with gateway.post(f"/api/orders/{now['id']}/cancel", json={"reason": "moving on", "at": "now"}, headers=person["auth"]) as r:
        assert (await r.json())["order"]["status"] == "cancelled"
    [ev] = await billing_events.wait("billing.subscription.cancelled", order_id=later["id"])
    assert ev["payload"]["cancelled_by"] == "contact" and ev["payload"]["reason"] == "too expensive"
    assert ev["payload"]["when"] == "period_end"
    # Access lasts until the end of the period already paid for.
    assert datetime.fromisoformat(ev["payload"]["access_ends_at"]) == datetime.fromisoformat(later["next_billing_date"])
    [ev] = await billing_events.wait("billing.subscription.cancelled", order_id=now["id"])
    assert ev["payload"]["when"] == "now"

    async with gateway.post(f"/api/orders/{paused['id']}/pause", headers=person["auth"]) as r:
        assert r.status == 200 and (await r.json())["order"]["status"] == "paused"
    as_of = datetime.fromisoformat(paused["next_billing_date"]) + timedelta(days=2)
    summary = await run_billing(gateway, as_of, person["contact_id"])
    assert summary["invoices_created"] == 0 and summary["cancelled"] == 1  # the period-end cancellation took effect
    async with gateway.post(f"/api/orders/{paused['id']}/resume", headers=person["auth"]) as r:
        resumed = (await r.json())["order"]
    assert resumed["status"] == "active"
    assert datetime.fromisoformat(resumed["next_billing_date"]) > datetime.fromisoformat(paused["next_billing_date"])
    orders = {o["id"]: o for o in (await get(gateway, "/api/orders", person["auth"]))["orders"]}
    assert orders[later["id"]]["status"] == "cancelled" and orders[now["id"]]["status"] == "cancelled"
    async with gateway.post(f"/api/orders/{now['id']}/cancel", json={"reason": "again"}, headers=person["auth"]) as r:
        assert r.status == 409


async def test_a_retry_falls_back_to_the_contacts_fallback_card(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    bad = (await add_card(gateway, person, DECLINED))["card"]
    backup = (await add_card(gateway, person, "5555555555554444", fallback_rank=1))["card"]
    due = utc(2031, 5, 20, 8)
    await patch_order(gateway, order["id"], {"card_id": bad["id"], "next_billing_date": due.isoformat()})
    assert (await run_billing(gateway, due, person["contact_id"]))["declined"] == 1
    assert (await run_billing(gateway, due + timedelta(days=1), person["contact_id"]))["succeeded"] == 1
    payments = (await get(gateway, "/api/payments", person["auth"]))["payments"]
    latest = [(p["status"], p["card"]["id"]) for p in payments if p["created_at"].startswith("2031-05-21")]
    assert sorted(latest) == sorted([("failed", bad["id"]), ("succeeded", backup["id"])])
    assert (await get(gateway, "/api/invoices?status=unpaid", person["auth"]))["invoices"] == []


async def test_an_admin_refund_goes_through_the_processor_once(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"])
    [payment] = (await get(gateway, "/api/payments", person["auth"]))["payments"]
    for expect in (200, 409):
        async with gateway.post(f"/admin/api/payments/{payment['id']}/refund", headers=ADMIN) as r:
            assert r.status == expect, await r.text()
    [refunded] = (await get(gateway, "/api/payments", person["auth"]))["payments"]
    assert refunded["status"] == "refunded" and refunded["amount_refunded"] == {"amount": 1900, "currency": "USD"}
    charge_id = await db.fetchval("SELECT processor_charge_id FROM billing.payments WHERE id = $1", uuid.UUID(payment["id"]))
    assert await db.fetchval("SELECT amount_refunded FROM sandbox.charges WHERE id = $1", charge_id) == 1900


async def test_the_scheduled_run_bills_due_orders_on_its_own(system, gateway, smtp, db, tmp_path):
    """A second billing replica with a one-second schedule (the suite's own billing keeps the default hour)."""
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    await patch_order(gateway, order["id"], {"next_billing_date": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()})
    replica = System(
        env={**system.env, "CC_BILLING_RUN_INTERVAL_SECONDS": "1"},
        ports={**system.ports, "billing": free_port()},
        log_dir=tmp_path,
    )
    replica.start("billing")
    try:
        await asyncio.to_thread(replica.wait_ready, ["billing"], 30)

        async def billed():
            return await db.fetchval(
                "SELECT status = 'paid' FROM billing.invoices WHERE order_id = $1 AND sequence = 2", uuid.UUID(order["id"])
            )

        await eventually(billed, timeout=15, message="the scheduled run billed the due order")
    finally:
        replica.stop("billing")


async def test_a_round_left_open_by_a_transient_error_is_retried_with_the_same_keys(gateway, smtp, db):
    """Declined on the order's card, then a transient error on the fallback card: an hour later the
    same round replays the decline (no second failed payment) and completes on the fallback card."""
    person = await customer(gateway, smtp, db)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, (await tokenise(gateway))["token"]))["order"]
    bad = (await add_card(gateway, person, DECLINED))["card"]
    flaky = (await add_card(gateway, person, TRANSIENT, fallback_rank=1))["card"]
    due = utc(2031, 8, 1, 8)
    await patch_order(gateway, order["id"], {"card_id": bad["id"], "next_billing_date": due.isoformat()})
    assert (await run_billing(gateway, due, person["contact_id"]))["declined"] == 1
    assert (await run_billing(gateway, due + timedelta(days=1), person["contact_id"]))["transient"] == 1
    assert (await run_billing(gateway, due + timedelta(days=1, hours=1), person["contact_id"]))["succeeded"] == 1

    payments = (await get(gateway, "/api/payments", person["auth"]))["payments"]
    mine = sorted((p["status"], p["card"]["id"]) for p in payments if p["created_at"] >= "2031")
    assert mine == sorted([("failed", bad["id"]), ("failed", bad["id"]), ("succeeded", flaky["id"])])
    keys = await db.fetch(
        "SELECT idempotency_key, status FROM sandbox.charges WHERE idempotency_key LIKE $1 ORDER BY created_at",
        f"order:{order['id']}:period:2:%",
    )
    assert [(k["idempotency_key"].split(":")[5], k["status"]) for k in keys] == [("1", "failed"), ("2", "failed"), ("2", "succeeded")]
