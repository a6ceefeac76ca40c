"""The order form and the Customer Center over HTTP, as a browser uses them: forms with CSRF tokens,
the session in HttpOnly cookies, the card number only ever sent to the processor's endpoint."""

import re
import uuid

from yarl import URL

from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.pages.conftest import (
    DECLINED, MONTHLY, buy_on_order_form, csrf_of, page, set_password_and_log_in, tokenise,
)
from tests.factories import unique_email


async def test_order_form_buys_a_subscription_and_the_center_shows_it(browser_like, smtp, db):
    email, status, html = await buy_on_order_form(browser_like, smtp)
    assert status == 201, html
    assert "Thank you for your order" in html and "$19.00" in html

    login = await set_password_and_log_in(browser_like, smtp, email, "orange tractor 42")
    assert login.headers["Location"] == "/center"
    cookies = {c.key: c for c in login.cookies.values()}
    for name in ("cc_access", "cc_refresh"):
        assert cookies[name]["httponly"] and cookies[name]["samesite"] == "Lax" and cookies[name]["path"] == "/"

    center = await page(browser_like, "/center")
    for title in ("Unpaid invoices", "Payment history", "Subscriptions and payment plans", "Cards", "My account"):
        assert title in center
    assert "Monthly" in center or "monthly" in center.lower()
    assert "Paid" in center and "$19.00" in center

    # The receipt of that payment, printable, through the Center.
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    payment_id = await db.fetchval("SELECT id FROM billing.payments WHERE contact_id = $1", contact_id)
    receipt = await page(browser_like, f"/center/receipts/{payment_id}")
    assert "Receipt" in receipt and "19.00" in receipt

    # Each section alone.
    for section, words in (("invoices", "no unpaid invoices"), ("payments", "$19.00"), ("orders", "Cancel"),
                           ("cards", "ending in 4242"), ("account", email)):
        alone = await page(browser_like, f"/center/{section}")
        assert words in alone, section


async def test_a_declined_card_on_the_order_form_says_why_and_places_no_order(browser_like, smtp, db):
    email, status, html = await buy_on_order_form(browser_like, smtp, number=DECLINED)
    assert status == 402
    assert "The card was declined." in html
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    assert await db.fetchval("SELECT count(*) FROM billing.orders WHERE contact_id = $1", contact_id) == 0
    # Another card on the same form works: the buyer is the same contact, now with an order.
    email2, status, html = await buy_on_order_form(browser_like, smtp, email=email)
    assert status == 201, html
    assert await db.fetchval("SELECT count(*) FROM billing.orders WHERE contact_id = $1", contact_id) == 1


async def test_checkout_api_places_the_order_once_per_key_and_never_races_the_contact_event(gateway, smtp, db):
    key = uuid.uuid4().hex
    body = {
        "site": "demo", "product_id": MONTHLY, "email": unique_email("api-buyer"), "first_name": "Al",
        "last_name": "Api", "card_token": await tokenise(gateway), "idempotency_key": key,
    }
    async with gateway.post("/api/checkout", json=body) as r:
        assert r.status == 201, await r.text()
        order = (await r.json())["order"]
    async with gateway.post("/api/checkout", json=body) as r:
        assert r.status == 201 and (await r.json())["order"]["id"] == order["id"]
    assert order["status"] == "active" and order["price"] == {"amount": 1900, "currency": "USD"}
    charges = await db.fetchval("SELECT count(*) FROM billing.payments WHERE order_id = $1", uuid.UUID(order["id"]))
    assert charges == 1
    assert await smtp.welcome(body["email"])
    # An unknown product: refused before anyone is created.
    async with gateway.post("/api/checkout", json={**body, "product_id": str(uuid.uuid4()), "email": unique_email()}) as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "product_not_found"


async def test_forms_and_cookie_calls_need_the_csrf_token(browser_like, smtp):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    assert status == 201
    await set_password_and_log_in(browser_like, smtp, email, "purple lantern 77")
    # A form without its token: 403, nothing done.
    async with browser_like.post("/center/account/username", data={"new_username": "x@example.org", "current_password": "purple lantern 77"}) as r:
        assert r.status == 403
        assert r.content_type == "text/html" and "The form expired. Reload the page and try again." in await r.text()
    # The cookie authenticates the customer API; reading needs no token, changing does.
    async with browser_like.get("/api/cards") as r:
        assert r.status == 200
        card_id = (await r.json())["cards"][0]["id"]
    async with browser_like.post(f"/api/cards/{card_id}/use-for-all") as r:
        assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    csrf = csrf_of(await page(browser_like, "/center/cards"))
    async with browser_like.post(f"/api/cards/{card_id}/use-for-all", headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}) as r:
        assert r.status == 403
    async with browser_like.post(f"/api/cards/{card_id}/use-for-all", headers={"X-CSRF-Token": csrf}) as r:
        assert r.status == 200, await r.text()


async def test_an_expired_access_cookie_is_renewed_from_the_refresh_cookie(browser_like, smtp, system):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    await set_password_and_log_in(browser_like, smtp, email, "silver kettle 19")
    url = system.processes["gateway"].url
    browser_like.cookie_jar.update_cookies({"cc_access": "expired.or.garbage"}, URL(url))
    async with browser_like.get("/center", allow_redirects=False) as r:
        assert r.status == 200
        assert "cc_access" in r.cookies and r.cookies["cc_access"].value != "expired.or.garbage"
    async with browser_like.get("/center/payments", allow_redirects=False) as r:
        assert r.status == 200 and "$19.00" in await r.text()


async def test_center_without_a_session_sends_to_login(browser_like):
    async with browser_like.get("/center", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/login")


async def test_the_reset_link_survives_a_mail_scanner(browser_like, smtp):
    email, status, _ = await buy_on_order_form(browser_like, smtp)
    await smtp.welcome(email)
    html = await page(browser_like, "/password/forgot?site=demo")
    async with browser_like.post("/password/forgot", data={"csrf_token": csrf_of(html), "site": "demo", "email": email}) as r:
        assert r.status == 200 and "on its way" in await r.text()
    async def link():
        for msg in smtp.to(email):
            m = re.search(r"/password/set\?token=([\w-]+)", msg.get_body(("plain",)).get_content())
            if m and "reset" in msg["Subject"].lower():
                return m.group(1)
    token = await eventually(link, message="reset email")
    for _ in range(2):  # a scanner opening the link twice consumes nothing
        form = await page(browser_like, f"/password/set?token={token}")
    async with browser_like.post("/password/set", data={
        "csrf_token": csrf_of(form), "token": token, "new_password": "golden river 55", "confirm_password": "golden river 55",
    }) as r:
        assert r.status == 200 and "Password set" in await r.text()


async def test_pages_speak_the_sites_language_and_lang_overrides_it(browser_like, gateway):
    admin = {"X-Api-Key": ADMIN_KEY}
    async with gateway.patch("/admin/api/site", json={"language": "fr", "theme": {"primary_color": "#fde047"}}, headers=admin) as r:
        assert r.status == 200, await r.text()
    try:
        async def french():
            html = await page(browser_like, "/login?site=demo")
            return html if '<html lang="fr">' in html else None

        html = await eventually(french, timeout=10, message="the login page in French")
        assert "Se connecter" in html and "--cc-on-primary:#000000" in html  # yellow brand: black text
        english = await page(browser_like, "/login?site=demo&lang=en")
        assert '<html lang="en">' in english and "Log in" in english
        assert '<html lang="en">' in await page(browser_like, "/login?site=demo")  # remembered in a cookie
    finally:
        async with gateway.patch("/admin/api/site", json={"language": "en", "theme": {}}, headers=admin) as r:
            assert r.status == 200

        async def english_again():
            async with gateway.get("/login?site=demo") as r:
                return '<html lang="en">' in await r.text()

        await eventually(english_again, timeout=10, message="English again")


async def test_pages_send_security_headers(browser_like):
    async with browser_like.get("/login?site=demo") as r:
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in r.headers  # plain HTTP on localhost


async def test_a_page_refusal_is_a_page_and_an_api_refusal_is_json(browser_like):
    html = await page(browser_like, f"/checkout/{uuid.uuid4()}?site=demo&lang=fr", expect=404)
    assert "Ce produit ne peut pas être commandé." in html and '<html lang="fr">' in html
    async with browser_like.post("/api/checkout", json={"site": "nowhere"}) as r:
        assert r.status == 422 and (await r.json())["error"]["code"] == "validation_failed"
