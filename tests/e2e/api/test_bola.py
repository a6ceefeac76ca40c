"""Broken object level authorisation, tried everywhere it could happen (issue 7's must-show, issue 10's
attack): contact A's token on each of contact B's invoices, payments, orders, cards and receipts, and
the admin key of one site on another site's objects, answer 404 every time, with none of the other
party's data in the body and nothing changed. Fields a caller must not set are refused (422).

The operations come from /openapi.json: every customer (bearer) and admin (apiKey) operation with an
id in its path is tried, so one added to the document is attacked without a change here (it fails
until the fixtures have an object of its kind, or a valid body when it needs one).

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


def operations_with_ids(spec: dict, scheme: str) -> list[tuple[str, str]]:
    """Every operation of the document that takes an id in its path and asks for ``scheme``'s
    credentials: an operation added to the document is attacked here without a line more."""
    return [(method.upper(), path) for path, operations in spec["paths"].items() if "{" in path
            for method, operation in operations.items() if {scheme: []} in (operation.get("security") or [])]


def aimed(template: str, objects: dict[str, list[str]]) -> list[str]:
    """The template with each path parameter set to the objects of its kind, the segment before it
    (``/orders/{id}``: each order, ``/grants/{grant_id}``: each grant)."""
    paths = [""]
    segments = template.strip("/").split("/")
    for i, segment in enumerate(segments):
        if segment.startswith("{"):
            kind = segments[i - 1]
            assert objects.get(kind), f"{template}: no object of kind {kind!r} to aim at: add one to the fixture"
            paths = [f"{p}/{o}" for p in paths for o in objects[kind]]
        else:
            paths = [f"{p}/{segment}" for p in paths]
    return paths


def attempts_on(spec: dict, scheme: str, objects: dict[str, list[str]], bodies: dict) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) for each operation with an id, at each object of the other party; an
    operation whose body is required needs an entry in ``bodies`` (a valid body: the answer must be
    404 because of whose the object is, not 422 because of the body)."""
    attempts = []
    for method, template in operations_with_ids(spec, scheme):
        operation = spec["paths"][template][method.lower()]
        required = operation.get("requestBody", {}).get("required", False)
        assert (method, template) in bodies or not required, f"{method} {template}: add a valid body to the BOLA bodies"
        for path in aimed(template, objects):
            for body in bodies.get((method, template), [None]):
                attempts.append((method, path, body))
    return attempts


def customer_attempts(spec: dict, b: dict, a_card: str) -> list[tuple[str, str, dict | None]]:
    """Contact A (``a_card`` is A's own card) at each of contact B's objects."""
    objects = {"payments": b["payments"], "invoices": b["invoices"], "orders": b["orders"], "cards": b["cards"]}
    bodies = {
        ("POST", "/api/invoices/{id}/pay"): [{"card_id": a_card}, {"card_id": b["spare_card"]}],
        ("POST", "/api/orders/{id}/cancel"): [{"reason": "not mine", "at": "now"}],
        ("POST", "/api/orders/{id}/pay-off"): [{"card_id": a_card}, {}],
        ("PATCH", "/api/cards/{id}"): [{"fallback_rank": 1}],
    }
    return attempts_on(spec, "bearer", objects, bodies)


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

    attempts = customer_attempts(api.contract.spec, b, a_card)
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
    _, api_key = await api.post("/admin/api/api-keys", json={"label": "Y's second key"}, headers=y, expect=201)
    ids.update(template=template, sequence=sequence["id"], webhook=hook["id"], key=key, headers=y,
               api_key=api_key["id"])
    return ids


# Addressed by a name of the caller's own site, not by an id: another site's template of that name is
# no way in (checked below: it is unchanged), the caller gets or makes its own.
OWN_NAMES = {("PUT", "/admin/api/templates/{name}")}


def admin_attempts(spec: dict, t: dict) -> list[tuple[str, str, dict | None]]:
    """Every admin operation that takes an id, aimed at the objects ``t`` of one site."""
    objects = {"contacts": [t["contact"]], "grants": [t["grant"]], "pages": [t["page"]], "orders": [t["order"]],
               "payments": [t["payment"]], "templates": [t["template"]], "sequences": [t["sequence"]],
               "enrolments": [t["contact"]], "webhooks": [t["webhook"]], "deliveries": [str(uuid.uuid4())],
               "api-keys": [t["api_key"]], "dead-letters": [str(uuid.uuid4())]}
    bodies = {
        ("PATCH", "/admin/api/contacts/{contact_id}"): [{"first_name": "Mallory"}],
        ("POST", "/admin/api/contacts/{contact_id}/grants"): [{"level_id": t["level"]}],
        ("PATCH", "/admin/api/pages/{page_id}"): [{"title": "Mallory was here"}],
        ("PATCH", "/admin/api/orders/{id}"): [{"card_id": t["card"]}],
        ("POST", "/admin/api/orders/{id}/cancel"): [{"reason": "Mallory"}],
        ("PUT", "/admin/api/sequences/{id}"): [{"name": "Mallory", "steps": [{"template": "welcome", "delay_seconds": 0}]}],
        ("POST", "/admin/api/sequences/{id}/enrolments"): [{"contact_id": t["contact"]}],
        ("PATCH", "/admin/api/webhooks/{id}"): [{"url": "http://127.0.0.1:9/mallory"}],
        ("PUT", "/admin/api/templates/{name}"): [],
        # The template is named within the caller's site; the other site's contact is what is aimed at.
        ("POST", "/admin/api/templates/{name}/preview"): [{"contact_id": t["contact"]}],
    }
    spec = {**spec, "paths": {path: {m: o for m, o in ops.items() if (m.upper(), path) not in OWN_NAMES}
                              for path, ops in spec["paths"].items()}}
    attempts = attempts_on(spec, "apiKey", objects, bodies)
    # Deletions last: the other operations are tried on objects that still exist.
    return sorted(attempts, key=lambda a: a[0] == "DELETE")


async def test_an_admin_key_gets_404_for_every_object_of_another_site(api, gateway, smtp, db, other_site):
    y = other_site
    secrets = [y["email"], y["contact"], y["order"], y["payment"], y["card"], y["grant"], y["sequence"], y["webhook"]]
    _, before = await api.get(f"/admin/api/contacts/{y['contact']}/purchases", headers=y["headers"], expect=200)
    for method, path, body in admin_attempts(api.contract.spec, y):
        status, answer = await api.call(method, path, json=body, headers=X)
        assert status == 404, (method, path, status, answer)
        assert not leaks(answer, secrets), (method, path, answer)
    # A template is addressed by name within the caller's site: X writing "Y's" name makes X's own.
    await api.put(f"/admin/api/templates/{y['template']}", json={"subject": "Mallory", "text": "M", "html": "<p>M</p>"},
                  headers=X, expect=200)
    _, theirs = await api.get(f"/admin/api/templates/{y['template']}", headers=y["headers"], expect=200)
    assert theirs["subject"] == "Y", theirs
    await api.delete(f"/admin/api/templates/{y['template']}", headers=X, expect=204)
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
        "api_key": (await api.post("/admin/api/api-keys", json={"label": "X's second key"}, headers=X, expect=201))[1]["id"],
    }
    for method, path, body in admin_attempts(api.contract.spec, x):
        status, answer = await api.call(method, path, json=body, headers=other_site["headers"])
        assert status == 404, (method, path, status, answer)
        assert not leaks(answer, victim["secrets"]), (method, path, answer)
    _, after = await api.get(f"/admin/api/contacts/{victim['contact_id']}/purchases", headers=X, expect=200)
    assert after == purchases
    # The demo site's webhook would keep failing (and retrying) for every later event: gone.
    await api.delete(f"/admin/api/webhooks/{hook['id']}", headers=X, expect=204)
    await api.delete(f"/admin/api/api-keys/{x['api_key']}", headers=X, expect=204)
    await api.delete(f"/admin/api/sequences/{sequence['id']}", headers=X, expect=204)
    await api.delete(f"/admin/api/templates/{template}", headers=X, expect=204)
    await api.delete(f"/admin/api/webhooks/{other_site['webhook']}", headers=other_site["headers"], expect=204)
