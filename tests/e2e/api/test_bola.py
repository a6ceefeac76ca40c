"""Broken object level authorisation, tried everywhere it could happen (issue 7's must-show, issue 10's
attack): contact A's token on each of contact B's invoices, payments, orders, cards and receipts, and
the admin key of one site on another site's objects, answer 404 every time, with none of the other
party's data in the body and nothing changed. Fields a caller must not set are refused (422).

Every answer is also checked against /openapi.json (the ``api`` client)."""

import json
import uuid
from datetime import datetime, timedelta

import pytest

from services.membership.seed import seed_site
from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.billing.conftest import DECLINED, MONTHLY, PLAN, customer, tokenise
from tests.e2e.helpers import sign_up_and_log_in

X = {"X-Api-Key": ADMIN_KEY}  # the demo site's key


def leaks(body, secrets: list[str]) -> list[str]:
    text = body if isinstance(body, str) else json.dumps(body)
    return [s for s in secrets if s and s.lower() in text.lower()]


@pytest.fixture(scope="module")
async def victim(api, gateway, smtp, db):
    """Contact B with everything that has an id: two orders, three cards, payments, an unpaid invoice."""
    b = await customer(gateway, smtp, db)
    token = (await tokenise(gateway))["token"]
    _, monthly = await api.post("/admin/api/orders", json={"contact_id": b["contact_id"], "product_id": MONTHLY,
                                                            "card_token": token}, headers=X, expect=201)
    _, plan = await api.post("/admin/api/orders", json={"contact_id": b["contact_id"], "product_id": PLAN,
                                                         "card_token": token}, headers=X, expect=201)
    _, spare = await api.post("/api/cards", json={"token": (await tokenise(gateway))["token"]}, headers=b["auth"],
                              expect=201)
    _, bad = await api.post("/api/cards", json={"token": (await tokenise(gateway, DECLINED))["token"]},
                            headers=b["auth"], expect=201)
    monthly, plan = monthly["order"], plan["order"]
    await api.patch(f"/admin/api/orders/{monthly['id']}", json={"card_id": bad["card"]["id"]}, headers=X, expect=200)
    when = datetime.fromisoformat(monthly["next_billing_date"]) + timedelta(hours=1)
    await api.post("/admin/api/billing/run", json={"as_of": when.isoformat(), "contact_id": b["contact_id"]},
                   headers=X, expect=200)
    _, invoices = await api.get("/api/invoices", headers=b["auth"], expect=200)
    _, payments = await api.get("/api/payments", headers=b["auth"], expect=200)
    _, cards = await api.get("/api/cards", headers=b["auth"], expect=200)
    assert any(i["status"] == "unpaid" for i in invoices["invoices"])
    b.update(
        orders=[monthly["id"], plan["id"]],
        invoices=[i["id"] for i in invoices["invoices"]],
        unpaid=[i["id"] for i in invoices["invoices"] if i["status"] == "unpaid"],
        payments=[p["id"] for p in payments["payments"]],
        cards=[c["id"] for c in cards["cards"]],
        spare_card=spare["card"]["id"],
    )
    b["secrets"] = [b["email"], b["contact_id"], *b["orders"], *b["invoices"], *b["payments"], *b["cards"]]
    return b


async def state_of(api, person) -> dict:
    state = {}
    for path in ("/api/invoices", "/api/payments", "/api/orders", "/api/cards"):
        _, state[path] = await api.get(path, headers=person["auth"], expect=200)
    return state


async def test_contact_a_gets_404_for_every_object_of_contact_b(api, gateway, smtp, db, victim):
    b = victim
    a = await customer(gateway, smtp, db)
    _, a_card = await api.post("/api/cards", json={"token": (await tokenise(gateway))["token"]}, headers=a["auth"],
                               expect=201)
    a_card = a_card["card"]["id"]
    before = await state_of(api, b)

    attempts = []
    for payment in b["payments"]:
        attempts.append(("GET", f"/api/payments/{payment}/receipt", None))
    for invoice in b["invoices"]:
        attempts += [("POST", f"/api/invoices/{invoice}/pay", {"card_id": a_card}),
                     ("POST", f"/api/invoices/{invoice}/pay", {"card_id": b["spare_card"]})]
    for order in b["orders"]:
        attempts += [("POST", f"/api/orders/{order}/cancel", {"reason": "not mine", "at": "now"}),
                     ("POST", f"/api/orders/{order}/pause", None),
                     ("POST", f"/api/orders/{order}/resume", None),
                     ("POST", f"/api/orders/{order}/pay-off", {"card_id": a_card}),
                     ("POST", f"/api/orders/{order}/pay-off", {})]
    for card in b["cards"]:
        attempts += [("DELETE", f"/api/cards/{card}", None),
                     ("POST", f"/api/cards/{card}/use-for-all", None),
                     ("PATCH", f"/api/cards/{card}", {"fallback_rank": 1})]
    assert len(attempts) >= 20
    for method, path, body in attempts:
        status, answer = await api.call(method, path, json=body, headers=a["auth"])
        assert status == 404, (method, path, status, answer)
        assert not leaks(answer, b["secrets"]), (method, path, answer)

    # B's cards are no way into A's own objects either.
    _, order = await api.post("/admin/api/orders", json={"contact_id": a["contact_id"], "product_id": PLAN,
                                                          "card_token": (await tokenise(gateway))["token"]},
                              headers=X, expect=201)
    for card in b["cards"]:
        status, answer = await api.post(f"/api/orders/{order['order']['id']}/pay-off", json={"card_id": card},
                                        headers=a["auth"])
        assert status == 404 and not leaks(answer, b["secrets"]), answer

    # A's lists show nothing of B's; B's objects are as they were.
    for path, listing in (await state_of(api, a)).items():
        assert not leaks(listing, b["secrets"][1:]), path
    assert await state_of(api, b) == before


async def test_fields_a_customer_must_not_set_are_refused(api, gateway, smtp, db, victim):
    a = await customer(gateway, smtp, db)
    token = (await tokenise(gateway))["token"]
    _, order = await api.post("/admin/api/orders", json={"contact_id": a["contact_id"], "product_id": MONTHLY,
                                                          "card_token": token}, headers=X, expect=201)
    order_id, card_id = order["order"]["id"], order["order"]["card"]["id"]
    refused = [
        ("POST", "/api/cards", {"token": token, "contact_id": victim["contact_id"]}),
        ("POST", "/api/cards", {"token": token, "is_default": True, "status": "active"}),
        ("PATCH", f"/api/cards/{card_id}", {"contact_id": victim["contact_id"]}),
        ("POST", f"/api/orders/{order_id}/cancel", {"reason": "x", "status": "active"}),
        ("POST", f"/api/orders/{order_id}/cancel", {"reason": "x", "price": {"amount": 0, "currency": "USD"}}),
        ("POST", f"/api/orders/{order_id}/pay-off", {"card_id": card_id, "amount": {"amount": 1, "currency": "USD"}}),
        ("POST", f"/api/invoices/{uuid.uuid4()}/pay", {"card_id": card_id, "amount": 1}),
        ("PUT", "/api/account/username", {"new_username": "x1", "current_password": "p", "contact_id": victim["contact_id"]}),
        ("PUT", "/api/account/password", {"current_password": "p", "new_password": "q", "login_id": str(uuid.uuid4())}),
    ]
    for method, path, body in refused:
        status, answer = await api.call(method, path, json=body, headers=a["auth"])
        assert status == 422, (method, path, status, answer)
    for extra in ({"contact_id": victim["contact_id"]}, {"level_id": str(uuid.uuid4())}, {"tags": ["vip"]},
                  {"status": "active"}):
        await api.post("/api/register", json={"site": "demo", "email": f"r{uuid.uuid4().hex[:8]}@example.org",
                                              "first_name": "R", "last_name": "S", **extra}, expect=422)
    # Admin bodies too: an order's price, amount or status is the product's and billing's, never the caller's.
    for extra in ({"price": {"amount": 1, "currency": "USD"}}, {"amount": 1}, {"status": "active"}):
        await api.post("/admin/api/orders", json={"contact_id": a["contact_id"], "product_id": MONTHLY,
                                                  "card_token": token, **extra}, headers=X, expect=422)
    for extra in ({"status": "cancelled"}, {"contact_id": victim["contact_id"]}, {"price": {"amount": 1, "currency": "USD"}}):
        await api.patch(f"/admin/api/orders/{order_id}", json=extra, headers=X, expect=422)
    _, still = await api.get("/api/orders", headers=a["auth"], expect=200)
    [mine] = [o for o in still["orders"] if o["id"] == order_id]
    assert mine["status"] == "active" and mine["price"] == order["order"]["price"]
    assert mine["contact_id"] == a["contact_id"]


@pytest.fixture(scope="module")
async def other_site(api, db):
    """Site Y, with an admin key of its own, a contact, a level and a grant, a page, an order and its
    payment, a sequence, a webhook and a template of its own."""
    slug = "bola-" + uuid.uuid4().hex[:8]
    key = "cc_test_other_site_" + uuid.uuid4().hex
    async with db.acquire() as conn, conn.transaction():  # the run's pool: no connection of its own
        await conn.execute("SET LOCAL search_path TO membership")
        await seed_site(conn, slug=slug, name="Other site", admin_key=key)
    y = {"X-Api-Key": key}
    ids = {}
    _, program = await api.post("/admin/api/programs", json={"name": "Y members"}, headers=y, expect=201)
    _, level = await api.post("/admin/api/levels", json={"program_id": program["id"], "name": "Y gold"}, headers=y,
                              expect=201)
    _, contact = await api.post("/admin/api/contacts", json={"email": f"y-{uuid.uuid4().hex[:8]}@example.org",
                                                             "first_name": "Yvonne", "last_name": "Other",
                                                             "level_id": level["id"]}, headers=y, expect=201)
    ids.update(level=level["id"], contact=contact["id"], grant=contact["grants"][0]["id"], email=contact["email"])
    _, page = await api.post("/admin/api/pages", json={"path": "/y-only", "level_ids": [level["id"]]}, headers=y,
                             expect=201)
    ids["page"] = page["id"]
    _, product = await api.post("/admin/api/products", json={"name": "Y monthly", "kind": "subscription",
                                                             "price": {"amount": 900, "currency": "USD"},
                                                             "interval": "month"}, headers=y, expect=201)
    ids["product"] = product["product"]["id"]

    async def ordered():
        async with api.session.post("/sandbox/v1/tokens", json={"number": "4242424242424242", "exp_month": 12,
                                                                "exp_year": 2099, "cvc": "123"}) as r:
            card_token = (await r.json())["token"]
        status, body = await api.post("/admin/api/orders", json={"contact_id": ids["contact"], "product_id": ids["product"],
                                                                 "card_token": card_token}, headers=y)
        return body if status == 201 else None

    order = (await eventually(ordered, message="billing learned site Y's contact"))["order"]
    ids.update(order=order["id"], card=order["card"]["id"])
    _, purchases = await api.get(f"/admin/api/contacts/{ids['contact']}/purchases", headers=y, expect=200)
    ids["payment"] = purchases["payments"][0]["id"]
    template = "y-own-" + uuid.uuid4().hex[:6]
    await api.put(f"/admin/api/templates/{template}", json={"subject": "Y", "text": "Y", "html": "<p>Y</p>"},
                  headers=y, expect=200)
    _, sequence = await api.post("/admin/api/sequences", json={"name": "Y seq", "steps": [
        {"template": template, "delay_seconds": 60}]}, headers=y, expect=201)
    await api.post(f"/admin/api/sequences/{sequence['id']}/enrolments", json={"contact_id": ids["contact"]},
                   headers=y, expect=201)
    _, hook = await api.post("/admin/api/webhooks", json={"url": "http://127.0.0.1:9/y", "event_types": ["*"]},
                             headers=y, expect=201)
    ids.update(template=template, sequence=sequence["id"], webhook=hook["id"], key=key, headers=y)
    return ids


def admin_attempts(t: dict) -> list[tuple[str, str, dict | None]]:
    """Every admin operation that takes an id, aimed at the objects ``t`` of one site."""
    c = t["contact"]
    return [
        ("GET", f"/admin/api/contacts/{c}", None),
        ("PATCH", f"/admin/api/contacts/{c}", {"first_name": "Mallory"}),
        ("GET", f"/admin/api/contacts/{c}/access?page=/y-only", None),
        ("POST", f"/admin/api/contacts/{c}/grants", {"level_id": t["level"]}),
        ("DELETE", f"/admin/api/contacts/{c}/grants/{t['grant']}", None),
        ("POST", f"/admin/api/contacts/{c}/resend-credentials", None),
        ("GET", f"/admin/api/contacts/{c}/purchases", None),
        ("PATCH", f"/admin/api/pages/{t['page']}", {"title": "Mallory was here"}),
        ("GET", f"/admin/api/orders/{t['order']}", None),
        ("PATCH", f"/admin/api/orders/{t['order']}", {"card_id": t["card"]}),
        ("POST", f"/admin/api/orders/{t['order']}/cancel", {"reason": "Mallory"}),
        ("POST", f"/admin/api/orders/{t['order']}/pause", None),
        ("POST", f"/admin/api/orders/{t['order']}/resume", None),
        ("POST", f"/admin/api/payments/{t['payment']}/refund", None),
        ("GET", f"/admin/api/templates/{t['template']}", None),
        ("DELETE", f"/admin/api/templates/{t['template']}", None),
        ("GET", f"/admin/api/sequences/{t['sequence']}", None),
        ("PUT", f"/admin/api/sequences/{t['sequence']}", {"name": "Mallory", "steps": [{"template": "welcome", "delay_seconds": 0}]}),
        ("GET", f"/admin/api/sequences/{t['sequence']}/enrolments", None),
        ("POST", f"/admin/api/sequences/{t['sequence']}/enrolments", {"contact_id": c}),
        ("DELETE", f"/admin/api/sequences/{t['sequence']}/enrolments/{c}", None),
        ("DELETE", f"/admin/api/sequences/{t['sequence']}", None),
        ("GET", f"/admin/api/webhooks/{t['webhook']}", None),
        ("PATCH", f"/admin/api/webhooks/{t['webhook']}", {"url": "http://127.0.0.1:9/mallory"}),
        ("GET", f"/admin/api/webhooks/{t['webhook']}/deliveries", None),
        ("POST", f"/admin/api/webhooks/{t['webhook']}/deliveries/{uuid.uuid4()}/replay", None),
        ("DELETE", f"/admin/api/webhooks/{t['webhook']}", None),
    ]


async def test_an_admin_key_gets_404_for_every_object_of_another_site(api, gateway, smtp, db, other_site):
    y = other_site
    secrets = [y["email"], y["contact"], y["order"], y["payment"], y["card"], y["grant"], y["sequence"], y["webhook"]]
    _, before = await api.get(f"/admin/api/contacts/{y['contact']}/purchases", headers=y["headers"], expect=200)
    for method, path, body in admin_attempts(y):
        status, answer = await api.call(method, path, json=body, headers=X)
        assert status == 404, (method, path, status, answer)
        assert not leaks(answer, secrets), (method, path, answer)
    # The other site's objects are untouched.
    _, after = await api.get(f"/admin/api/contacts/{y['contact']}/purchases", headers=y["headers"], expect=200)
    assert after == before
    _, contact = await api.get(f"/admin/api/contacts/{y['contact']}", headers=y["headers"], expect=200)
    assert contact["first_name"] == "Yvonne" and contact["grants"][0]["ends_at"] is None
    for path in (f"/admin/api/sequences/{y['sequence']}", f"/admin/api/webhooks/{y['webhook']}",
                 f"/admin/api/templates/{y['template']}"):
        await api.get(path, headers=y["headers"], expect=200)

    # Ids of another site in a body: refused, never used.
    _, purchases = await api.get(f"/admin/api/contacts/{y['contact']}/purchases", headers=y["headers"], expect=200)
    demo_contact = (await customer(gateway, smtp, db))["contact_id"]
    status, _ = await api.post("/admin/api/orders", json={"contact_id": demo_contact, "product_id": y["product"],
                                                          "card_token": "tok_x"}, headers=X)
    assert status == 404
    status, _ = await api.post("/admin/api/orders", json={"contact_id": y["contact"], "product_id": MONTHLY,
                                                          "card_token": "tok_x"}, headers=X)
    assert status == 404
    await api.post(f"/admin/api/contacts/{demo_contact}/grants", json={"level_id": y["level"]}, headers=X, expect=422)
    await api.post("/admin/api/pages", json={"path": "/stolen", "level_ids": [y["level"]]}, headers=X, expect=422)
    await api.post("/admin/api/rules", json={"product_id": MONTHLY, "level_id": y["level"]}, headers=X, expect=422)
    await api.patch("/admin/api/site", json={"registration_defaults": {"level_id": y["level"]}}, headers=X, expect=422)
    _, messages = await api.get(f"/admin/api/messages?contact_id={y['contact']}", headers=X, expect=200)
    assert messages["messages"] == []
    _, listing = await api.get("/admin/api/contacts?limit=200&q=Yvonne", headers=X, expect=200)
    assert not leaks(listing, secrets)


async def test_site_y_key_gets_404_for_every_object_of_the_demo_site(api, gateway, smtp, db, other_site, victim):
    """The same the other way round, on the demo site's own objects."""
    _, purchases = await api.get(f"/admin/api/contacts/{victim['contact_id']}/purchases", headers=X, expect=200)
    _, contact = await api.get(f"/admin/api/contacts/{victim['contact_id']}", headers=X, expect=200)
    template = "x-own-" + uuid.uuid4().hex[:6]
    await api.put(f"/admin/api/templates/{template}", json={"subject": "X", "text": "X", "html": "<p>X</p>"},
                  headers=X, expect=200)
    _, sequence = await api.post("/admin/api/sequences", json={"name": "X seq " + template, "steps": [
        {"template": template, "delay_seconds": 60}]}, headers=X, expect=201)
    _, hook = await api.post("/admin/api/webhooks", json={"url": "http://127.0.0.1:9/x",
                                                          "event_types": ["membership.granted"]},
                             headers=X, expect=201)
    _, pages = await api.get("/admin/api/pages", headers=X, expect=200)
    x = {
        "contact": victim["contact_id"], "level": pages["items"][0]["levels"][0]["id"],
        "grant": contact["grants"][0]["id"], "page": pages["items"][0]["id"],
        "order": purchases["orders"][0]["id"], "card": purchases["cards"][0]["id"],
        "payment": purchases["payments"][0]["id"], "template": template, "sequence": sequence["id"],
        "webhook": hook["id"],
    }
    for method, path, body in admin_attempts(x):
        status, answer = await api.call(method, path, json=body, headers=other_site["headers"])
        assert status == 404, (method, path, status, answer)
        assert not leaks(answer, victim["secrets"]), (method, path, answer)
    _, after = await api.get(f"/admin/api/contacts/{victim['contact_id']}/purchases", headers=X, expect=200)
    assert after == purchases
    # The demo site's webhook would keep failing (and retrying) for every later event: gone.
    await api.delete(f"/admin/api/webhooks/{hook['id']}", headers=X, expect=204)
    await api.delete(f"/admin/api/sequences/{sequence['id']}", headers=X, expect=204)
    await api.delete(f"/admin/api/templates/{template}", headers=X, expect=204)
    await api.delete(f"/admin/api/webhooks/{other_site['webhook']}", headers=other_site["headers"], expect=204)
