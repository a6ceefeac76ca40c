"""Every documented answer matches what the code sends: each operation of /openapi.json is driven
through the running gateway (a success and its main failures: 401, 404, 422, 409, 402), and every
status and body is checked against the document (``conftest.Contract``). The last test fails if an
operation was never answered with a success."""

import re
import uuid
from datetime import datetime, timedelta, timezone

from services.membership.seed import demo_id
from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.api.dead_letters import park_in_billing_dead_letters
from tests.e2e.billing.conftest import DECLINED, MONTHLY, PLAN, VISA_OK, customer, tokenise
from tests.e2e.helpers import sign_up_and_log_in, welcome_fields
from tests.factories import registration, unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}
NOBODY = str(uuid.uuid4())
NO_TOKEN = {"Authorization": "Bearer not-a-token"}


async def test_public_and_login_operations_match_the_document(api, gateway, smtp):
    await api.get("/openapi.json", expect=200)
    await api.get("/healthz", expect=200)
    await api.get("/readyz", expect=200)
    await api.get("/metrics", expect=200)
    await api.get("/", expect=200)
    await api.get("/password/set?token=abc", expect=200)
    await api.get("/embed.js", expect=200)
    await api.get("/embed/frame.js", expect=200)
    await api.get("/.well-known/jwks.json", expect=200)

    await api.post("/api/register", json=registration(site="no-such-site"), expect=404)
    await api.post("/api/register", json={"site": "demo"}, expect=422)
    body = registration()
    await api.post("/api/register", json=body, expect=201)
    await api.post("/api/register", json=body, expect=409)
    token = welcome_fields((await smtp.welcome(body["email"]))[0])["token"]
    await api.post("/api/password/set", json={"token": token, "new_password": "short"}, expect=422)
    person = {"email": body["email"], "password": "pass " + token[:12]}
    await api.post("/api/password/set", json={"token": token, "new_password": person["password"]}, expect=200)

    await api.post("/api/login", json={"site": "demo", "username": person["email"], "password": "wrong one"}, expect=401)
    await api.post("/api/login", json={"site": "demo"}, expect=422)
    _, tokens = await api.post(
        "/api/login", json={"site": "demo", "username": person["email"], "password": person["password"]}, expect=200
    )
    await api.post("/api/token/refresh", json={"refresh_token": "x" * 40}, expect=401)
    _, tokens = await api.post("/api/token/refresh", json={"refresh_token": tokens["refresh_token"]}, expect=200)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}

    await api.post("/api/password/forgot", json={"site": "demo", "email": person["email"]}, expect=202)
    await api.post("/api/password/forgot", json={}, expect=422)
    await api.post("/api/password/set", json={"token": "z" * 40, "new_password": "a long new password"}, expect=400)

    await api.get("/api/me", expect=401)
    await api.get("/api/me", headers=NO_TOKEN, expect=401)
    await api.get("/api/me", headers=auth, expect=200)
    await api.get("/api/can-open?page=/welcome", headers=auth, expect=200)
    await api.get("/api/can-open?page=welcome", headers=auth, expect=422)
    await api.get("/api/can-open?page=/welcome", expect=401)

    await api.put("/api/account/username", json={"new_username": "x" + uuid.uuid4().hex[:8], "current_password": "nope nope"},
                  headers=auth, expect=403)
    await api.put("/api/account/username", json={}, headers=auth, expect=422)
    await api.put("/api/account/username", json={"new_username": "u" + uuid.uuid4().hex[:10],
                                                 "current_password": person["password"]}, headers=auth, expect=200)
    new_password = "another pass " + uuid.uuid4().hex[:8]
    await api.put("/api/account/password", json={"current_password": person["password"], "new_password": new_password},
                  headers=auth, expect=200)
    await api.post("/api/logout", headers=auth, expect=200)
    await api.post("/api/logout", expect=401)

    await api.post("/sandbox/v1/tokens", json={"number": "4242424242424241", "exp_month": 12, "exp_year": 2099,
                                               "cvc": "123"}, expect=422)
    await api.post("/sandbox/v1/tokens", json={"number": VISA_OK, "exp_month": 12, "exp_year": 2099, "cvc": "123"},
                   expect=201)


async def test_customer_billing_operations_match_the_document(api, gateway, smtp, db):
    me = await customer(gateway, smtp, db)
    auth, cid = me["auth"], me["contact_id"]
    first = await tokenise(gateway)
    _, answer = await api.post("/admin/api/orders", json={"contact_id": cid, "product_id": MONTHLY,
                                                           "card_token": first["token"]}, headers=ADMIN, expect=201)
    monthly = answer["order"]
    key = uuid.uuid4().hex
    plan_body = {"contact_id": cid, "product_id": PLAN, "card_token": first["token"], "idempotency_key": key}
    _, answer = await api.post("/admin/api/orders", json=plan_body, headers=ADMIN, expect=201)
    plan = answer["order"]
    await api.post("/admin/api/orders", json=plan_body, headers=ADMIN, expect=200)
    await api.post("/admin/api/orders", json={**plan_body, "idempotency_key": None, "contact_id": NOBODY},
                   headers=ADMIN, expect=404)
    declined_token = (await tokenise(gateway, DECLINED))["token"]
    await api.post("/admin/api/orders", json={"contact_id": cid, "product_id": MONTHLY, "card_token": declined_token},
                   headers=ADMIN, expect=402)

    # The order form's API: a new buyer, the same key answering the same order, a decline, an unknown product.
    buyer = {"site": "demo", "email": unique_email("checkout"), "first_name": "Cat", "last_name": "Out"}
    checkout = {**buyer, "product_id": MONTHLY, "card_token": (await tokenise(gateway))["token"],
                "idempotency_key": uuid.uuid4().hex}
    _, placed = await api.post("/api/checkout", json=checkout, expect=201)
    _, again = await api.post("/api/checkout", json=checkout, expect=201)
    assert again["order"]["id"] == placed["order"]["id"]
    await api.post("/api/checkout", json={**checkout, "idempotency_key": None,
                                          "card_token": (await tokenise(gateway, DECLINED))["token"]}, expect=402)
    await api.post("/api/checkout", json={**checkout, "product_id": NOBODY}, expect=404)

    for path in ("/api/invoices", "/api/invoices?status=paid", "/api/payments", "/api/orders", "/api/cards"):
        await api.get(path, headers=auth, expect=200)
        await api.get(path, expect=401)
    await api.get("/api/invoices?status=nope", headers=auth, expect=422)
    await api.get("/api/payments?limit=0", headers=auth, expect=422)
    await api.get("/api/orders?limit=x", headers=auth, expect=422)

    _, payments = await api.get("/api/payments", headers=auth, expect=200)
    await api.get(payments["payments"][0]["receipt_url"], headers=auth, expect=200)
    await api.get(f"/api/payments/{NOBODY}/receipt", headers=auth, expect=404)
    await api.get("/api/payments/not-an-id/receipt", headers=auth, expect=404)

    # Cards: a second one (201, then 200 for the same token), a declining one, fallbacks, use-for-all.
    second = await tokenise(gateway)
    _, added = await api.post("/api/cards", json={"token": second["token"]}, headers=auth, expect=201)
    await api.post("/api/cards", json={"token": second["token"]}, headers=auth, expect=200)
    await api.post("/api/cards", json={"token": "tok_unknown"}, headers=auth, expect=422)
    await api.post("/api/cards", json={"token": second["token"], "contact_id": NOBODY}, headers=auth, expect=422)
    _, bad = await api.post("/api/cards", json={"token": declined_token}, headers=auth, expect=201)
    card2, bad_card = added["card"]["id"], bad["card"]["id"]
    await api.patch(f"/api/cards/{card2}", json={"fallback_rank": 1}, headers=auth, expect=200)
    await api.patch(f"/api/cards/{NOBODY}", json={"fallback_rank": 1}, headers=auth, expect=404)
    await api.patch(f"/api/cards/{card2}", json={"fallback_rank": 0}, headers=auth, expect=422)
    first_card = monthly["card"]["id"]
    await api.delete(f"/api/cards/{first_card}", headers=auth, expect=409)
    await api.post(f"/api/cards/{card2}/use-for-all", headers=auth, expect=200)
    await api.post(f"/api/cards/{NOBODY}/use-for-all", headers=auth, expect=404)
    await api.delete(f"/api/cards/{first_card}", headers=auth, expect=204)
    await api.delete(f"/api/cards/{NOBODY}", headers=auth, expect=404)

    # An unpaid invoice: the order is moved to the declining card and billed a period later.
    await api.patch(f"/admin/api/orders/{monthly['id']}", json={"card_id": bad_card}, headers=ADMIN, expect=200)
    await api.patch(f"/admin/api/orders/{monthly['id']}", json={}, headers=ADMIN, expect=422)
    await api.patch(f"/admin/api/orders/{NOBODY}", json={"card_id": bad_card}, headers=ADMIN, expect=404)
    when = datetime.fromisoformat(monthly["next_billing_date"]) + timedelta(hours=1)
    await api.post("/admin/api/billing/run", json={"as_of": when.isoformat(), "contact_id": cid}, headers=ADMIN, expect=200)
    await api.post("/admin/api/billing/run", json={"as_of": "yesterday"}, headers=ADMIN, expect=422)
    _, unpaid = await api.get("/api/invoices?status=unpaid", headers=auth, expect=200)
    [invoice] = unpaid["invoices"]
    await api.post(f"/api/invoices/{invoice['id']}/pay", json={"card_id": bad_card}, headers=auth, expect=402)
    await api.post(f"/api/invoices/{invoice['id']}/pay", json={}, headers=auth, expect=422)
    await api.post(f"/api/invoices/{NOBODY}/pay", json={"card_id": card2}, headers=auth, expect=404)
    await api.post(f"/api/invoices/{invoice['id']}/pay", json={"card_id": card2}, headers=auth, expect=200)
    await api.post(f"/api/invoices/{invoice['id']}/pay", json={"card_id": card2}, headers=auth, expect=409)

    # Orders: pause, resume, pay off, cancel.
    mid = monthly["id"]
    await api.post(f"/api/orders/{mid}/resume", headers=auth, expect=409)
    await api.post(f"/api/orders/{mid}/pause", headers=auth, expect=200)
    await api.post(f"/api/orders/{mid}/resume", headers=auth, expect=200)
    await api.post(f"/admin/api/orders/{mid}/pause", headers=ADMIN, expect=200)
    await api.post(f"/admin/api/orders/{mid}/resume", headers=ADMIN, expect=200)
    await api.post(f"/admin/api/orders/{mid}/resume", headers=ADMIN, expect=409)
    await api.post(f"/api/orders/{NOBODY}/pause", headers=auth, expect=404)
    await api.post(f"/api/orders/{plan['id']}/pay-off", json={"card_id": NOBODY}, headers=auth, expect=404)
    await api.post(f"/api/orders/{plan['id']}/pay-off", json={"card_id": card2}, headers=auth, expect=200)
    await api.post(f"/api/orders/{plan['id']}/pay-off", json={"card_id": card2}, headers=auth, expect=409)
    await api.post(f"/api/orders/{mid}/cancel", json={"at": "whenever"}, headers=auth, expect=422)
    await api.post(f"/api/orders/{mid}/cancel", json={"reason": "too busy", "at": "now"}, headers=auth, expect=200)
    await api.post(f"/api/orders/{mid}/cancel", json={"reason": "again", "at": "now"}, headers=auth, expect=409)
    await api.post(f"/api/orders/{mid}/pause", headers=auth, expect=409)

    # Admin views of the same.
    await api.get(f"/admin/api/orders/{mid}", headers=ADMIN, expect=200)
    await api.get(f"/admin/api/orders/{NOBODY}", headers=ADMIN, expect=404)
    await api.get(f"/admin/api/orders/{mid}", expect=401)
    await api.post(f"/admin/api/orders/{mid}/cancel", json={"reason": "x"}, headers=ADMIN, expect=409)
    await api.get(f"/admin/api/contacts/{cid}/purchases", headers=ADMIN, expect=200)
    await api.get(f"/admin/api/contacts/{NOBODY}/purchases", headers=ADMIN, expect=404)
    _, payments = await api.get("/api/payments", headers=auth, expect=200)
    paid = next(p for p in payments["payments"] if p["status"] == "succeeded")
    await api.post(f"/admin/api/payments/{paid['id']}/refund", headers=ADMIN, expect=200)
    await api.post(f"/admin/api/payments/{paid['id']}/refund", headers=ADMIN, expect=409)
    await api.post(f"/admin/api/payments/{NOBODY}/refund", headers=ADMIN, expect=404)

    # A second subscription, cancelled by the admin.
    _, again = await api.post("/admin/api/orders", json={"contact_id": cid, "product_id": MONTHLY,
                                                          "card_token": second["token"]}, headers=ADMIN, expect=201)
    await api.post(f"/admin/api/orders/{again['order']['id']}/cancel", json={"reason": "asked by phone"},
                   headers=ADMIN, expect=200)

    await api.post("/admin/api/products", json={"name": "Weekly tips", "kind": "subscription",
                                                "price": {"amount": 500, "currency": "USD"}, "interval": "week"},
                   headers=ADMIN, expect=201)
    await api.post("/admin/api/products", json={"name": "Bad", "kind": "one_time", "price": {"amount": 5,
                                                "currency": "USD"}, "interval": "week"}, headers=ADMIN, expect=422)
    await api.get("/admin/api/products", headers=ADMIN, expect=200)
    await api.get("/admin/api/products", headers={"X-Api-Key": "wrong"}, expect=401)


async def test_membership_admin_operations_match_the_document(api, gateway, smtp):
    _, site = await api.get("/admin/api/site", headers=ADMIN, expect=200)
    await api.get("/admin/api/site", expect=401)
    await api.patch("/admin/api/site", json={"embed_origins": site["embed_origins"]}, headers=ADMIN, expect=200)
    await api.patch("/admin/api/site", json={"post_login_redirect": "no slash"}, headers=ADMIN, expect=422)

    _, levels = await api.get("/admin/api/levels", headers=ADMIN, expect=200)
    await api.get("/admin/api/levels?program_id=nope", headers=ADMIN, expect=422)
    level_id = levels["items"][0]["id"]
    email = unique_email()
    _, contact = await api.post("/admin/api/contacts", json={"email": email, "first_name": "Bo", "last_name": "Ek",
                                                             "tags": ["vip"]}, headers=ADMIN, expect=201)
    await api.post("/admin/api/contacts", json={"email": email, "first_name": "Bo", "last_name": "Ek"},
                   headers=ADMIN, expect=409)
    await api.post("/admin/api/contacts", json={"email": "not an email"}, headers=ADMIN, expect=422)
    await api.get("/admin/api/contacts?limit=2", headers=ADMIN, expect=200)
    await api.get("/admin/api/contacts?limit=0", headers=ADMIN, expect=422)
    cid = contact["id"]
    await api.get(f"/admin/api/contacts/{cid}", headers=ADMIN, expect=200)
    await api.get(f"/admin/api/contacts/{NOBODY}", headers=ADMIN, expect=404)
    await api.patch(f"/admin/api/contacts/{cid}", json={"first_name": "Bob"}, headers=ADMIN, expect=200)
    await api.patch(f"/admin/api/contacts/{cid}", json={"id": NOBODY}, headers=ADMIN, expect=422)
    await api.get(f"/admin/api/contacts/{cid}/access?page=/welcome", headers=ADMIN, expect=200)
    await api.get(f"/admin/api/contacts/{cid}/access?page=nope", headers=ADMIN, expect=422)
    _, grant = await api.post(f"/admin/api/contacts/{cid}/grants", json={"level_id": level_id}, headers=ADMIN,
                              expect=201)
    await api.post(f"/admin/api/contacts/{cid}/grants", json={"level_id": NOBODY}, headers=ADMIN, expect=422)
    await api.delete(f"/admin/api/contacts/{cid}/grants/{grant['id']}", headers=ADMIN, expect=200)
    await api.delete(f"/admin/api/contacts/{cid}/grants/{grant['id']}", headers=ADMIN, expect=409)
    await api.delete(f"/admin/api/contacts/{cid}/grants/{NOBODY}", headers=ADMIN, expect=404)

    async def has_login():
        status, _ = await api.post(f"/admin/api/contacts/{cid}/resend-credentials", headers=ADMIN)
        return status == 202

    await eventually(has_login, message="auth made the granted contact a login")
    await api.post(f"/admin/api/contacts/{NOBODY}/resend-credentials", headers=ADMIN, expect=404)
    await api.get(f"/admin/api/audit?contact_id={cid}&limit=2", headers=ADMIN, expect=200)
    await api.get("/admin/api/audit?before=yesterday", headers=ADMIN, expect=422)
    await api.get("/admin/api/audit", expect=401)

    name = "f_" + uuid.uuid4().hex[:8]
    await api.post("/admin/api/fields", json={"name": name, "type": "text"}, headers=ADMIN, expect=201)
    await api.post("/admin/api/fields", json={"name": name, "type": "text"}, headers=ADMIN, expect=409)
    await api.get("/admin/api/fields", headers=ADMIN, expect=200)

    program_name = "Program " + uuid.uuid4().hex[:6]
    _, program = await api.post("/admin/api/programs", json={"name": program_name}, headers=ADMIN, expect=201)
    await api.post("/admin/api/programs", json={"name": program_name}, headers=ADMIN, expect=409)
    await api.get("/admin/api/programs", headers=ADMIN, expect=200)
    _, level = await api.post("/admin/api/levels", json={"program_id": program["id"], "name": "Silver"},
                              headers=ADMIN, expect=201)
    await api.post("/admin/api/levels", json={"program_id": program["id"], "name": "Silver"}, headers=ADMIN,
                   expect=409)
    path = "/p/" + uuid.uuid4().hex[:8]
    _, page = await api.post("/admin/api/pages", json={"path": path, "level_ids": [level["id"]]}, headers=ADMIN,
                             expect=201)
    await api.post("/admin/api/pages", json={"path": path, "level_ids": [level["id"]]}, headers=ADMIN, expect=409)
    await api.get("/admin/api/pages", headers=ADMIN, expect=200)
    await api.patch(f"/admin/api/pages/{page['id']}", json={"title": "Silver lessons"}, headers=ADMIN, expect=200)
    await api.patch(f"/admin/api/pages/{NOBODY}", json={"title": "x"}, headers=ADMIN, expect=404)
    product = str(uuid.uuid4())
    await api.post("/admin/api/rules", json={"product_id": product, "level_id": level["id"]}, headers=ADMIN, expect=201)
    await api.post("/admin/api/rules", json={"product_id": product, "level_id": level["id"]}, headers=ADMIN, expect=409)
    await api.get("/admin/api/rules", headers=ADMIN, expect=200)


async def test_notify_admin_operations_match_the_document(api, gateway, smtp):
    _, templates = await api.get("/admin/api/templates", headers=ADMIN, expect=200)
    default = next(t for t in templates["templates"] if t["kind"] == "default")
    name = default["name"]
    await api.get(f"/admin/api/templates/{name}", headers=ADMIN, expect=200)
    await api.get("/admin/api/templates/no-such-one", headers=ADMIN, expect=404)
    await api.put(f"/admin/api/templates/{name}", json={"subject": default["subject"], "text": default["text"],
                                                        "html": default["html"]}, headers=ADMIN, expect=200)
    await api.put(f"/admin/api/templates/{name}", json={"subject": "Hi {{ nope_field }}", "text": "x", "html": "x"},
                  headers=ADMIN, expect=422)
    await api.delete(f"/admin/api/templates/{name}", headers=ADMIN, expect=200)
    own = "own-" + uuid.uuid4().hex[:6]
    await api.put(f"/admin/api/templates/{own}", json={"subject": "Hello", "text": "Hi", "html": "<p>Hi</p>"},
                  headers=ADMIN, expect=200)

    _, settings = await api.get("/admin/api/email-settings", headers=ADMIN, expect=200)
    await api.put("/admin/api/email-settings", json={"reply_to": "help@example.org"}, headers=ADMIN, expect=200)
    await api.put("/admin/api/email-settings", json={"reply_to": "nope"}, headers=ADMIN, expect=422)
    await api.put("/admin/api/email-settings", json={k: settings[k] for k in ("mail_from", "reply_to")},
                  headers=ADMIN, expect=200)  # as other tests expect it
    await api.get("/admin/api/messages?limit=3", headers=ADMIN, expect=200)
    await api.get("/admin/api/messages?contact_id=nope", headers=ADMIN, expect=422)

    person = await sign_up_and_log_in(gateway, smtp)
    seq_name = "seq " + uuid.uuid4().hex[:6]
    body = {"name": seq_name, "steps": [{"template": own, "delay_seconds": 3600}]}
    _, seq = await api.post("/admin/api/sequences", json=body, headers=ADMIN, expect=201)
    await api.post("/admin/api/sequences", json=body, headers=ADMIN, expect=409)
    await api.post("/admin/api/sequences", json={"name": "x", "steps": []}, headers=ADMIN, expect=422)
    await api.get("/admin/api/sequences", headers=ADMIN, expect=200)
    sid = seq["id"]
    await api.get(f"/admin/api/sequences/{sid}", headers=ADMIN, expect=200)
    await api.get(f"/admin/api/sequences/{NOBODY}", headers=ADMIN, expect=404)
    await api.put(f"/admin/api/sequences/{sid}", json={**body, "name": seq_name + " v2"}, headers=ADMIN, expect=200)
    await api.post(f"/admin/api/sequences/{sid}/enrolments", json={"contact_id": person["contact_id"]},
                   headers=ADMIN, expect=201)
    await api.post(f"/admin/api/sequences/{sid}/enrolments", json={"contact_id": NOBODY}, headers=ADMIN, expect=404)
    await api.get(f"/admin/api/sequences/{sid}/enrolments", headers=ADMIN, expect=200)
    await api.post("/admin/api/sequences/run", json={"as_of": datetime.now(timezone.utc).isoformat()},
                   headers=ADMIN, expect=200)
    await api.delete(f"/admin/api/sequences/{sid}/enrolments/{person['contact_id']}", headers=ADMIN, expect=200)
    await api.delete(f"/admin/api/sequences/{sid}/enrolments/{NOBODY}", headers=ADMIN, expect=404)
    await api.delete(f"/admin/api/sequences/{sid}", headers=ADMIN, expect=204)
    await api.delete(f"/admin/api/templates/{own}", headers=ADMIN, expect=204)

    _, hook = await api.post("/admin/api/webhooks", json={"url": "http://127.0.0.1:9/hook",
                                                          "event_types": ["membership.contact.created"]},
                             headers=ADMIN, expect=201)
    await api.post("/admin/api/webhooks", json={"url": "ftp://x", "event_types": ["*"]}, headers=ADMIN, expect=422)
    await api.get("/admin/api/webhooks", headers=ADMIN, expect=200)
    hid = hook["id"]
    await api.get(f"/admin/api/webhooks/{hid}", headers=ADMIN, expect=200)
    await api.post("/admin/api/contacts", json={"email": unique_email(), "first_name": "Hook", "last_name": "Ed"},
                   headers=ADMIN, expect=201)

    async def delivered():
        _, log = await api.get(f"/admin/api/webhooks/{hid}/deliveries", headers=ADMIN, expect=200)
        return log["deliveries"]

    [delivery, *_] = await eventually(delivered, message="a webhook delivery")
    await api.post(f"/admin/api/webhooks/{hid}/deliveries/{delivery['id']}/replay", headers=ADMIN, expect=202)
    await api.post(f"/admin/api/webhooks/{hid}/deliveries/{NOBODY}/replay", headers=ADMIN, expect=404)
    await api.get(f"/admin/api/webhooks/{hid}/deliveries?limit=0", headers=ADMIN, expect=422)
    await api.patch(f"/admin/api/webhooks/{hid}", json={"active": False}, headers=ADMIN, expect=200)
    await api.delete(f"/admin/api/webhooks/{hid}", headers=ADMIN, expect=204)
    await api.get(f"/admin/api/webhooks/{hid}", headers=ADMIN, expect=404)


async def test_operations_admin_operations_match_the_document(api, amqp, bus_prefix):
    _, created = await api.post("/admin/api/api-keys", json={"label": "conformance"}, headers=ADMIN, expect=201)
    await api.get("/admin/api/api-keys", headers=ADMIN, expect=200)
    await api.delete(f"/admin/api/api-keys/{created['id']}", headers=ADMIN, expect=204)
    await api.post("/admin/api/templates/welcome/preview", json={}, headers=ADMIN, expect=200)
    await api.post("/admin/api/templates/welcome/preview", json={"text": "{{ nope_field }}"}, headers=ADMIN, expect=422)

    parked = await park_in_billing_dead_letters(amqp, bus_prefix)

    async def listed():
        _, answer = await api.get("/admin/api/dead-letters", headers=ADMIN, expect=200)
        return parked["id"] in [d["id"] for d in answer["dead_letters"]]

    await eventually(listed, message="the parked dead letter listed")
    await api.post(f"/admin/api/dead-letters/{parked['id']}/replay", headers=ADMIN, expect=200)
    await api.post(f"/admin/api/dead-letters/{parked['id']}/replay", headers=ADMIN, expect=404)


async def test_a_body_over_64_kib_is_refused_in_the_error_format(api):
    huge = {"padding": "x" * 70_000}
    for method, path in (("POST", "/api/login"), ("POST", "/sandbox/v1/tokens"), ("POST", "/api/logout"),
                         ("POST", "/api/register")):
        status, body = await api.call(method, path, json=huge, headers={} if path != "/api/logout" else NO_TOKEN)
        assert status in (413, 401), (path, status)
        if path != "/api/logout":
            assert status == 413 and body["error"]["code"] == "body_too_large", body


def _operations(contract):
    """The API's operations (the pages answer people with pages, behind a CSRF token: tests/e2e/pages)."""
    for path, item in contract.spec["paths"].items():
        for method, op in item.items():
            if "Pages" not in op["tags"]:
                yield method.upper(), path, op


def _with_ids(path: str) -> str:
    return re.sub(r"{\w+}", lambda m: "no-such-one" if m.group(0) == "{name}" else str(uuid.uuid4()), path)


async def test_every_operation_needing_identity_answers_401_without_it(api, contract):
    secured = [(m, p) for m, p, op in _operations(contract) if op["security"]]
    assert len(secured) > 60
    for method, path in secured:
        for headers in ({}, NO_TOKEN, {"X-Api-Key": "cc_wrong_key"}):
            await api.call(method, _with_ids(path), headers=headers, json={}, expect=401)


async def test_every_operation_on_an_unknown_id_answers_404_and_every_malformed_body_422(api, contract, gateway, smtp):
    person = await sign_up_and_log_in(gateway, smtp)
    for method, path, op in _operations(contract):
        headers = ADMIN if op["security"] == [{"apiKey": []}] else person["auth"] if op["security"] else {}
        if "{" in path and "requestBody" not in op:
            await api.call(method, _with_ids(path), headers=headers, expect=404)
        if "requestBody" in op:
            status, _ = await api.call(method, _with_ids(path), headers=headers, data=b"[1, 2]")
            assert status == 422 or (status == 404 and "{" in path), (method, path, status)
            status, _ = await api.call(method, _with_ids(path), headers=headers, data=b"{not json")
            assert status == 422 or (status == 404 and "{" in path), (method, path, status)


def test_every_documented_operation_was_answered_with_a_success(contract):
    """Runs last in this module: every API operation of the document was driven above and succeeded.
    (The pages, for people, are driven by tests/e2e/pages and the browser tests.)"""
    never = sorted(
        (method.upper(), path)
        for path, item in contract.spec["paths"].items()
        for method, op in item.items()
        if "Pages" not in op["tags"]
        and not any(200 <= s < 300 for s in contract.seen.get((method.upper(), path), ()))
    )
    assert not never, f"operations never answered with a success: {never}"

