"""Cards: several per contact, a default, "Use this card" for every open order, one order's card
changed by the admin, and which card pays what."""

from datetime import datetime, timezone

from tests.e2e.billing.conftest import (
    ADMIN, EBOOK, MONTHLY, PLAN, add_card, customer, get, patch_order, place_order, run_billing, tokenise,
)


async def test_use_this_card_moves_all_three_open_orders_while_the_admin_change_moves_one(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    first = await tokenise(gateway)
    orders = [
        (await place_order(gateway, person["contact_id"], product, first["token"]))["order"]
        for product in (MONTHLY, MONTHLY, PLAN)
    ]
    await place_order(gateway, person["contact_id"], EBOOK, first["token"])  # one-time: not an open order
    old_card = orders[0]["card"]["id"]
    new = await add_card(gateway, person, "5555555555554444")
    assert new["card"]["is_default"] is False and new["card"]["orders"] == []

    # The admin changes one order: only that one moves.
    changed = await patch_order(gateway, orders[1]["id"], {"card_id": new["card"]["id"]})
    assert changed["order"]["card"]["id"] == new["card"]["id"]
    purchases = await get(gateway, f"/admin/api/contacts/{person['contact_id']}/purchases", ADMIN)
    by_id = {o["id"]: o["card"]["id"] for o in purchases["orders"]}
    assert [by_id[o["id"]] for o in orders] == [old_card, new["card"]["id"], old_card]

    # Every card lists the open orders it pays, with the next date and the amount.
    cards = {c["id"]: c for c in (await get(gateway, "/api/cards", person["auth"]))["cards"]}
    assert {o["id"] for o in cards[old_card]["orders"]} == {orders[0]["id"], orders[2]["id"]}
    [paid_by_new] = cards[new["card"]["id"]]["orders"]
    assert paid_by_new["amount"] == {"amount": 1900, "currency": "USD"}
    assert datetime.fromisoformat(paid_by_new["next_billing_date"]) == datetime.fromisoformat(orders[1]["next_billing_date"])

    # "Use this card" with a third card: all three open orders move, and it is the default.
    third = await add_card(gateway, person, "4000056655665556")
    async with gateway.post(f"/api/cards/{third['card']['id']}/use-for-all", headers=person["auth"]) as r:
        assert r.status == 200, await r.text()
        answer = await r.json()
    assert sorted(o["id"] for o in answer["moved_orders"]) == sorted(o["id"] for o in orders)
    assert all(o["card"]["id"] == third["card"]["id"] for o in answer["moved_orders"])
    assert answer["card"]["is_default"] is True and len(answer["card"]["orders"]) == 3
    listed = (await get(gateway, "/api/orders", person["auth"]))["orders"]
    assert {o["card"]["id"] for o in listed} == {third["card"]["id"]}
    cards = (await get(gateway, "/api/cards", person["auth"]))["cards"]
    assert [c["id"] for c in cards if c["is_default"]] == [third["card"]["id"]]


async def test_a_card_that_pays_open_orders_cannot_be_removed_and_others_cards_are_not_found(gateway, smtp, db):
    person = await customer(gateway, smtp, db)
    first = await tokenise(gateway)
    sub = (await place_order(gateway, person["contact_id"], MONTHLY, first["token"]))["order"]
    plan = (await place_order(gateway, person["contact_id"], PLAN, first["token"]))["order"]
    card_id = sub["card"]["id"]
    async with gateway.delete(f"/api/cards/{card_id}", headers=person["auth"]) as r:
        assert r.status == 409
        error = (await r.json())["error"]
    assert error["code"] == "card_in_use"
    assert sorted(o["id"] for o in error["details"]["orders"]) == sorted([sub["id"], plan["id"]])
    assert "Gold monthly" in error["message"]

    other = await customer(gateway, smtp, db)
    for method, path in (("DELETE", f"/api/cards/{card_id}"), ("POST", f"/api/cards/{card_id}/use-for-all")):
        async with gateway.request(method, path, headers=other["auth"]) as r:
            assert r.status == 404
    async with gateway.get(f"/api/orders", headers=other["auth"]) as r:
        assert (await r.json())["orders"] == []
    async with gateway.post(f"/api/orders/{sub['id']}/cancel", json={"reason": "x"}, headers=other["auth"]) as r:
        assert r.status == 404

    spare = await add_card(gateway, person, "5555555555554444")
    async with gateway.post(f"/api/cards/{spare['card']['id']}/use-for-all", headers=person["auth"]) as r:
        assert r.status == 200
    async with gateway.delete(f"/api/cards/{card_id}", headers=person["auth"]) as r:
        assert r.status == 204
    remaining = (await get(gateway, "/api/cards", person["auth"]))["cards"]
    assert [c["id"] for c in remaining] == [spare["card"]["id"]] and remaining[0]["is_default"]


async def test_a_card_paying_open_orders_is_announced_once_the_month_before_it_expires(gateway, smtp, db, billing_events):
    person = await customer(gateway, smtp, db)
    card = await tokenise(gateway, exp_year=2031, exp_month=2)
    order = (await place_order(gateway, person["contact_id"], MONTHLY, card["token"]))["order"]
    await patch_order(gateway, order["id"], {"next_billing_date": "2031-06-01T00:00:00Z"})
    assert (await run_billing(gateway, datetime(2030, 12, 20, tzinfo=timezone.utc), person["contact_id"]))["expiring_cards"] == 0
    assert (await run_billing(gateway, datetime(2031, 1, 10, tzinfo=timezone.utc), person["contact_id"]))["expiring_cards"] == 1
    assert (await run_billing(gateway, datetime(2031, 1, 20, tzinfo=timezone.utc), person["contact_id"]))["expiring_cards"] == 0
    [event] = await billing_events.wait("billing.card.expiry_approached", card_id=order["card"]["id"])
    assert (event["payload"]["exp_month"], event["payload"]["exp_year"], event["payload"]["last4"]) == (2, 2031, "4242")
