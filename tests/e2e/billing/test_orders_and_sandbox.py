"""The sandbox processor through the gateway, and orders placed as an order form would."""

import subprocess
import uuid

import aiohttp

from tests.conftest import eventually
from tests.e2e.billing.conftest import (
    ADMIN, DECLINED, EBOOK, MONTHLY, NO_FUNDS, TRANSIENT, VISA_OK, customer, get, place_order, tokenise,
)


async def test_the_card_form_tokenises_at_the_sandbox_and_refuses_bad_or_expired_cards(gateway):
    card = await tokenise(gateway, VISA_OK)
    assert card["token"].startswith("tok_") and card["brand"] == "visa" and card["last4"] == "4242"
    for number, exp_year in (("4242424242424241", 2099), (VISA_OK, 2020)):
        async with gateway.post(
            "/sandbox/v1/tokens", json={"number": number, "exp_month": 1, "exp_year": exp_year, "cvc": "123"}
        ) as r:
            assert r.status == 422
            assert (await r.json())["error"]["code"] == "card_invalid"


async def test_the_sandbox_honours_idempotency_keys_and_its_test_cards(system, gateway):
    sandbox = system.processes["sandbox"].url
    ok, declined, transient = [await tokenise(gateway, n) for n in (VISA_OK, DECLINED, TRANSIENT)]
    async with aiohttp.ClientSession(base_url=sandbox) as s:
        key = {"Idempotency-Key": "k-" + uuid.uuid4().hex}
        body = {"token": ok["token"], "amount": 1234, "currency": "USD"}
        async with s.post("/sandbox/v1/charges", json=body, headers=key) as r:
            assert r.status == 201
            first = await r.json()
        async with s.post("/sandbox/v1/charges", json=body, headers=key) as r:
            assert r.status == 200 and r.headers["Idempotent-Replayed"] == "true"
            assert (await r.json())["id"] == first["id"]
        async with s.post("/sandbox/v1/charges", json={**body, "amount": 999}, headers=key) as r:
            assert r.status == 409
        async with s.post("/sandbox/v1/charges", json={**body, "token": declined["token"]}, headers={"Idempotency-Key": uuid.uuid4().hex}) as r:
            assert r.status == 402 and (await r.json())["failure_code"] == "card_declined"
        key = {"Idempotency-Key": uuid.uuid4().hex}
        async with s.post("/sandbox/v1/charges", json={**body, "token": transient["token"]}, headers=key) as r:
            assert r.status == 503 and (await r.json())["error"]["code"] == "processing_error"
        async with s.post("/sandbox/v1/charges", json={**body, "token": transient["token"]}, headers=key) as r:
            assert r.status == 201
        async with s.post("/sandbox/v1/refunds", json={"charge": first["id"]}, headers={"Idempotency-Key": "r-" + first["id"]}) as r:
            assert r.status == 201
        async with s.get(f"/sandbox/v1/charges/{first['id']}") as r:
            assert (await r.json())["amount_refunded"] == 1234


async def test_an_order_charges_now_and_publishes_the_payment_and_the_order(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, card["token"]))["order"]
    assert order["status"] == "active" and order["price"] == {"amount": 1900, "currency": "USD"}
    assert order["card"]["last4"] == "4242" and order["next_billing_date"]

    [paid] = await billing_events.wait("billing.payment.succeeded", order_id=order["id"])
    [created] = await billing_events.wait("billing.order.created", order_id=order["id"])
    assert paid["payload"]["amount"] == {"amount": 1900, "currency": "USD"} and paid["payload"]["sequence"] == 1
    assert created["payload"]["kind"] == "subscription"

    invoices = (await get(gateway, "/api/invoices?status=paid", person["auth"]))["invoices"]
    assert [(i["order_id"], i["status"], i["amount"]["amount"]) for i in invoices] == [(order["id"], "paid", 1900)]
    [payment] = (await get(gateway, "/api/payments", person["auth"]))["payments"]
    async with gateway.get(payment["receipt_url"], headers=person["auth"]) as r:
        assert r.status == 200 and r.content_type == "text/html"
        html = await r.text()
    assert "$19.00" in html and "4242" in html and "Gold monthly" in html

    # Another contact sees none of it.
    other = await customer(gateway, smtp, db)
    async with gateway.get(payment["receipt_url"], headers=other["auth"]) as r:
        assert r.status == 404
    assert (await get(gateway, "/api/invoices", other["auth"]))["invoices"] == []


async def test_a_declined_card_places_no_order_and_says_why(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    for number, code in ((DECLINED, "card_declined"), (NO_FUNDS, "insufficient_funds")):
        card = await tokenise(gateway, number)
        body = await place_order(gateway, person["contact_id"], EBOOK, card["token"], expect=402)
        assert body["error"]["code"] == code and body["error"]["message"]
    purchases = await get(gateway, f"/admin/api/contacts/{person['contact_id']}/purchases", ADMIN)
    assert purchases["orders"] == [] and purchases["payments"] == []


async def test_a_transient_processor_error_at_checkout_is_retried_with_the_same_key(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway, TRANSIENT)
    order = (await place_order(gateway, person["contact_id"], EBOOK, card["token"]))["order"]
    assert await db.fetchval(
        "SELECT count(*) FROM sandbox.charges c JOIN sandbox.tokens t USING (token) WHERE t.token = $1", card["token"]
    ) == 1
    assert order["status"] == "active"


async def test_orders_for_unknown_contacts_or_products_are_not_found(gateway, smtp, db):
    card = await tokenise(gateway)
    body = await place_order(gateway, str(uuid.uuid4()), MONTHLY, card["token"], expect=404)
    assert body["error"]["code"] == "not_found"
    person = await customer(gateway, smtp, db)
    await place_order(gateway, person["contact_id"], str(uuid.uuid4()), card["token"], expect=404)
    await place_order(gateway, person["contact_id"], MONTHLY, "tok_unknown", expect=422)
    # A contact billing knows, but of another site, is not found through the demo site's key.
    elsewhere = uuid.uuid4()
    await db.execute(
        "INSERT INTO billing.contacts (id, site_id, email) VALUES ($1, $2, 'elsewhere@example.org')", elsewhere, uuid.uuid4()
    )
    await place_order(gateway, str(elsewhere), MONTHLY, card["token"], expect=404)
    async with gateway.get(f"/admin/api/contacts/{uuid.uuid4()}/purchases", headers=ADMIN) as r:
        assert r.status == 404


async def test_products_of_every_kind_are_created_and_listed(gateway):
    bodies = [
        {"name": "Weekly tips", "kind": "subscription", "price": {"amount": 500, "currency": "USD"}, "interval": "week", "interval_count": 2},
        {"name": "Course in 6", "kind": "payment_plan", "price": {"amount": 2500, "currency": "USD"}, "interval": "month", "installments": 6},
        {"name": "Workbook", "kind": "one_time", "price": {"amount": 990, "currency": "USD"}},
    ]
    ids = []
    for body in bodies:
        async with gateway.post("/admin/api/products", json=body, headers=ADMIN) as r:
            assert r.status == 201, await r.text()
            ids.append((await r.json())["product"]["id"])
    async with gateway.post("/admin/api/products", json={**bodies[1], "installments": None}, headers=ADMIN) as r:
        assert r.status == 422
    async with gateway.post("/admin/api/products", json={**bodies[2], "price": {"amount": 1.5, "currency": "USD"}}, headers=ADMIN) as r:
        assert r.status == 422
    listed = (await get(gateway, "/admin/api/products?limit=200", ADMIN))["products"]
    by_id = {p["id"]: p for p in listed}
    assert by_id[ids[0]]["interval_count"] == 2 and by_id[ids[1]]["installments"] == 6
    assert by_id[ids[2]]["price"] == {"amount": 990, "currency": "USD"}


async def test_no_card_number_reaches_the_billing_database_or_any_log(system, gateway, smtp, db, log_dir, database_url):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway, VISA_OK)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, card["token"]))["order"]
    declined = await tokenise(gateway, DECLINED)
    await place_order(gateway, person["contact_id"], EBOOK, declined["token"], expect=402)

    async def stored():
        return await db.fetchval("SELECT count(*) FROM billing.payments WHERE order_id = $1", uuid.UUID(order["id"]))

    await eventually(stored)
    dump = subprocess.run(
        ["pg_dump", "--data-only", "--schema=billing", database_url], capture_output=True, text=True, check=True
    ).stdout
    assert card["token"] in dump and "4242" in dump  # the token and last four are there ...
    logs = "\n".join((log_dir / f"{name}.log").read_text() for name in system.processes)
    for number in (VISA_OK, DECLINED):  # ... never a card number
        assert number not in dump
        assert number not in logs


async def test_a_retried_order_with_the_same_idempotency_key_is_one_order_and_one_charge(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway)
    body = {"contact_id": person["contact_id"], "product_id": MONTHLY, "card_token": card["token"], "idempotency_key": uuid.uuid4().hex}
    statuses, ids = [], set()
    for _ in range(2):
        async with gateway.post("/admin/api/orders", json=body, headers=ADMIN) as r:
            statuses.append(r.status)
            ids.add((await r.json())["order"]["id"])
    assert statuses == [201, 200] and len(ids) == 1
    assert await db.fetchval("SELECT count(*) FROM sandbox.charges WHERE token = $1", card["token"]) == 1
    assert await db.fetchval("SELECT count(*) FROM billing.orders WHERE contact_id = $1", uuid.UUID(person["contact_id"])) == 1


async def test_a_batch_of_charges_gives_each_its_own_key_and_outcome_as_the_single_route_would(system, gateway):
    from services.billing.processor import ChargeRequest
    from services.billing.processor.sandbox import SandboxProcessor

    sandbox = system.processes["sandbox"].url
    ok, declined, transient = [(await tokenise(gateway, n))["token"] for n in (VISA_OK, DECLINED, TRANSIENT)]
    keys = {name: f"{name}-{uuid.uuid4().hex}" for name in ("ok", "declined", "transient", "earlier", "reused", "unknown")}
    async with aiohttp.ClientSession(base_url=sandbox) as s:
        for name in ("earlier", "reused"):
            async with s.post("/sandbox/v1/charges", json={"token": ok, "amount": 500, "currency": "USD"},
                              headers={"Idempotency-Key": keys[name]}) as r:
                assert r.status == 201
                if name == "earlier":
                    earlier = (await r.json())["id"]
        charge = lambda name, token, amount=500: {  # noqa: E731
            "idempotency_key": keys[name], "token": token, "amount": amount, "currency": "USD", "description": name}
        batch = [charge("ok", ok), charge("declined", declined), charge("transient", transient), charge("earlier", ok),
                 charge("reused", ok, amount=999), charge("unknown", "tok_nobody")]
        async with s.post("/sandbox/v1/charges/batch", json={"charges": batch}) as r:
            assert r.status == 200
            answers = {a["idempotency_key"]: a for a in (await r.json())["charges"]}
        assert [a["idempotency_key"] for a in answers.values()] == [c["idempotency_key"] for c in batch]
        assert answers[keys["ok"]]["status"] == "succeeded" and not answers[keys["ok"]]["replayed"]
        assert answers[keys["declined"]]["failure_code"] == "card_declined"
        assert answers[keys["transient"]]["error"]["code"] == "processing_error" and answers[keys["transient"]]["retryable"]
        assert answers[keys["earlier"]]["replayed"] and answers[keys["earlier"]]["id"] == earlier
        assert answers[keys["reused"]]["error"]["code"] == "idempotency_key_reused"
        assert answers[keys["unknown"]]["error"]["code"] == "not_found" and not answers[keys["unknown"]]["retryable"]
        # The same batch again: every stored charge is replayed, and the transient one now charges.
        async with s.post("/sandbox/v1/charges/batch", json={"charges": batch[:3]}) as r:
            again = (await r.json())["charges"]
        assert [a.get("replayed") for a in again] == [True, True, False]
        assert again[0]["id"] == answers[keys["ok"]]["id"] and again[2]["status"] == "succeeded"
        # A key twice in one batch is refused whole: nothing is charged.
        twice = {**batch[0], "idempotency_key": "twice-" + uuid.uuid4().hex}
        async with s.post("/sandbox/v1/charges/batch", json={"charges": [twice, twice]}) as r:
            assert r.status == 422
        async with s.get("/sandbox/v1/charges", params={"idempotency_key": twice["idempotency_key"]}) as r:
            assert r.status == 404

        # Billing's adapter reads the same answers into its results.
        processor = SandboxProcessor(sandbox, s)
        fresh = ChargeRequest(token=declined, amount=700, currency="USD", idempotency_key="d-" + uuid.uuid4().hex)
        results = await processor.charge_many([
            ChargeRequest(token=ok, amount=500, currency="USD", idempotency_key=keys["ok"]), fresh,
            ChargeRequest(token="tok_nobody", amount=500, currency="USD", idempotency_key="u-" + uuid.uuid4().hex),
        ])
    assert [(r.outcome, r.code) for r in results] == [
        ("succeeded", None), ("declined", "card_declined"), ("declined", "not_found")]
    assert results[0].charge_id == answers[keys["ok"]]["id"]
