"""The Center's actions and its resilience, over HTTP as a browser posts its forms."""

import re
import signal
from datetime import datetime, timedelta, timezone

from tests.conftest import ADMIN_KEY
from tests.e2e.pages.conftest import DECLINED, buy_on_order_form, csrf_of, page, set_password_and_log_in, tokenise


async def test_pay_now_settles_an_unpaid_invoice_with_the_chosen_card(browser_like, smtp, db, gateway):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    assert status == 201
    await set_password_and_log_in(browser_like, smtp, email, "copper meadow 28")
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    good_card = await db.fetchval("SELECT id FROM billing.cards WHERE contact_id = $1", contact_id)

    # A declining card pays the subscription; the renewal a month later fails.
    csrf = csrf_of(await page(browser_like, "/center/cards"))
    async with browser_like.post("/center/cards", data={"csrf_token": csrf, "token": await tokenise(browser_like, DECLINED)},
                                 allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/center/cards?done=card_added"
    bad_card = await db.fetchval("SELECT id FROM billing.cards WHERE contact_id = $1 AND id <> $2", contact_id, good_card)
    async with browser_like.post(f"/center/cards/{bad_card}/use-for-all", data={"csrf_token": csrf}, allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/cards?done=card_used"
    as_of = datetime.now(timezone.utc) + timedelta(days=32)
    async with gateway.post("/admin/api/billing/run", json={"as_of": as_of.isoformat(), "contact_id": str(contact_id)},
                            headers={"X-Api-Key": ADMIN_KEY}) as r:
        assert r.status == 200, await r.text()

    html = await page(browser_like, "/center/invoices")
    assert "Pay now" in html
    invoice_id = re.search(r'action="/center/invoices/([0-9a-f-]+)/pay"', html).group(1)

    # Pay now with the declining card: it says why, the invoice stays unpaid.
    async with browser_like.post(f"/center/invoices/{invoice_id}/pay", data={"csrf_token": csrf, "card_id": str(bad_card)},
                                 allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/invoices?error=card_declined"
    assert "The card was declined." in await page(browser_like, "/center/invoices?error=card_declined")
    # With the good card: paid.
    async with browser_like.post(f"/center/invoices/{invoice_id}/pay", data={"csrf_token": csrf, "card_id": str(good_card)},
                                 allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/invoices?done=paid"
    assert await db.fetchval("SELECT status FROM billing.invoices WHERE id = $1::uuid", invoice_id) == "paid"
    assert "You have no unpaid invoices." in await page(browser_like, "/center/invoices")


async def test_the_center_shows_what_it_can_when_billing_is_down(browser_like, smtp, system):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    await set_password_and_log_in(browser_like, smtp, email, "granite willow 90")
    system.stop("billing", signal.SIGKILL)
    try:
        html = await page(browser_like, "/center")
        assert html.count("This part cannot be shown right now.") == 4  # invoices, payments, orders, cards
        assert "Change password" in html  # the account section (auth) still works
    finally:
        system.start("billing")
        system.wait_ready(["billing"])


async def test_username_change_and_card_removal_from_my_account(browser_like, smtp, db):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    await set_password_and_log_in(browser_like, smtp, email, "cobalt orchard 12")
    csrf = csrf_of(await page(browser_like, "/center/account"))
    new_name = "renamed-" + email
    async with browser_like.post("/center/account/username", allow_redirects=False, data={
        "csrf_token": csrf, "new_username": new_name, "current_password": "wrong password here",
    }) as r:
        assert r.headers["Location"] == "/center/account?error=current_password_incorrect"
    async with browser_like.post("/center/account/username", allow_redirects=False, data={
        "csrf_token": csrf, "new_username": new_name, "current_password": "cobalt orchard 12",
    }) as r:
        assert r.headers["Location"] == "/center/account?done=username_changed"
    assert f"Your username is {new_name}." in await page(browser_like, "/center/account")

    # The card paying the subscription cannot go; a spare one can.
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    paying = await db.fetchval("SELECT id FROM billing.cards WHERE contact_id = $1", contact_id)
    async with browser_like.post(f"/center/cards/{paying}/remove", data={"csrf_token": csrf}, allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/cards?error=card_in_use"
    async with browser_like.post("/center/cards", data={"csrf_token": csrf, "token": await tokenise(browser_like, "5555555555554444")},
                                 allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/cards?done=card_added"
    spare = await db.fetchval("SELECT id FROM billing.cards WHERE contact_id = $1 AND id <> $2", contact_id, paying)
    async with browser_like.post(f"/center/cards/{spare}/remove", data={"csrf_token": csrf}, allow_redirects=False) as r:
        assert r.headers["Location"] == "/center/cards?done=card_removed"
    assert "ending in 4444" not in await page(browser_like, "/center/cards")
