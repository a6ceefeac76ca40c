"""The admin console's Must show, in Chromium (axe-core checks every page):

1. A support user finds a contact, opens Purchases, changes the card of one of two orders; the
   other order keeps its card; the audit entry shows before and after.
3. The access panel explains a denied page, and Resend login credentials delivers a fresh link to
   aiosmtpd while the old one stops working."""

import re

from playwright.async_api import expect

from services.membership.seed import demo_id
from tests.browser.conftest import assert_accessible
from tests.conftest import ADMIN_KEY
from tests.e2e.helpers import welcome_fields
from tests.factories import registration, unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}
MONTHLY, PLAN, EBOOK = (str(demo_id(f"product:{p}")) for p in ("monthly", "plan", "ebook"))


async def _token(gateway, number: str) -> str:
    async with gateway.post("/sandbox/v1/tokens", json={"number": number, "exp_month": 12, "exp_year": 2099,
                                                        "cvc": "123"}) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["token"]


async def _admin(gateway, method: str, path: str, json=None, expect: int = 200) -> dict:
    async with gateway.request(method, path, json=json, headers=ADMIN) as r:
        body = await r.json()
        assert r.status == expect, body
        return body


async def _customer_with_two_orders_on_one_card(gateway) -> tuple[str, str, str]:
    """A customer whose subscription and payment plan are paid by a Visa, with a Mastercard on file
    too (from a one-time purchase). → (email, subscription id, plan id)."""
    email, visa = unique_email("twoorders"), await _token(gateway, "4242424242424242")
    async with gateway.post("/api/checkout", json={"site": "demo", "product_id": MONTHLY, "email": email,
                                                   "first_name": "Tess", "last_name": "Twoorders", "card_token": visa}) as r:
        assert r.status == 201, await r.text()
        monthly = (await r.json())["order"]["id"]
    [contact] = (await _admin(gateway, "GET", f"/admin/api/contacts?q={email}"))["items"]
    plan = await _admin(gateway, "POST", "/admin/api/orders", {"contact_id": contact["id"], "product_id": PLAN,
                                                               "card_token": visa}, expect=201)
    mastercard = await _token(gateway, "5555555555554444")
    await _admin(gateway, "POST", "/admin/api/orders", {"contact_id": contact["id"], "product_id": EBOOK,
                                                        "card_token": mastercard}, expect=201)
    return email, monthly, plan["order"]["id"]


async def console_login(page, account) -> None:
    await page.goto(f"/admin/login?site={account.site}")
    await page.get_by_label("Email address").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/admin/contacts$"))


async def test_support_changes_the_card_of_one_order_and_the_audit_shows_it(
    browser_page, gateway, staff_support, axe_source, screenshots
):
    page = browser_page
    email, monthly, plan = await _customer_with_two_orders_on_one_card(gateway)

    await page.goto("/admin/login?site=demo")
    await assert_accessible(page, axe_source)
    await console_login(page, staff_support)
    await assert_accessible(page, axe_source)

    # Find the contact.
    await page.get_by_label("Search by name or email").fill(email)
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name="Tess Twoorders").click()
    await expect(page.get_by_role("heading", name="Tess Twoorders", level=1)).to_be_visible()
    await assert_accessible(page, axe_source)

    # Purchases: both orders on the Visa.
    await page.get_by_role("link", name="Purchases").click()
    orders = page.locator("section[aria-labelledby=orders] tbody tr")
    await expect(orders.filter(has_text="Gold monthly")).to_contain_text("Visa ending in 4242")
    await expect(orders.filter(has_text="Gold course")).to_contain_text("Visa ending in 4242")
    await assert_accessible(page, axe_source)
    await page.screenshot(path=screenshots / "admin-purchases.png", full_page=True)

    # Edit order: the subscription only, to the Mastercard.
    await page.get_by_role("link", name="Edit order Gold monthly").click()
    await assert_accessible(page, axe_source)
    card = page.get_by_label(re.compile("^Card"))
    mastercard_value = await card.locator("option", has_text="Mastercard ending in 4444").get_attribute("value")
    await card.select_option(mastercard_value)
    await page.get_by_role("button", name="Use this card for this order").click()
    await expect(page.get_by_role("status")).to_have_text("This order now uses the chosen card.")
    await assert_accessible(page, axe_source)

    await page.get_by_role("link", name="Back to the purchases").click()
    await expect(orders.filter(has_text="Gold monthly")).to_contain_text("Mastercard ending in 4444")
    await expect(orders.filter(has_text="Gold course")).to_contain_text("Visa ending in 4242")  # kept its card
    assert (await _admin(gateway, "GET", f"/admin/api/orders/{plan}"))["order"]["card"]["last4"] == "4242"
    assert (await _admin(gateway, "GET", f"/admin/api/orders/{monthly}"))["order"]["card"]["last4"] == "4444"

    # The record's audit entry: who, what, before and after.
    await page.get_by_role("link", name="Record").click()
    entry = page.locator("table.audit tbody tr").filter(has_text="order.changed")
    await expect(entry).to_contain_text(staff_support.email)
    await expect(entry.locator(".before")).to_contain_text("4242")
    await expect(entry.locator(".after")).to_contain_text("4444")
    await assert_accessible(page, axe_source)
    await page.screenshot(path=screenshots / "admin-contact-audit.png", full_page=True)

    # And in the audit page.
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.locator("table.audit tbody tr").filter(has_text="order.changed").first).to_contain_text("4444")
    await assert_accessible(page, axe_source)


async def test_access_panel_explains_a_denied_page_and_resend_sends_a_fresh_link(
    browser_page, gateway, smtp, staff_support, axe_source, screenshots
):
    page = browser_page
    person = registration(email=unique_email("access"), first_name="Ari", last_name="Access")
    async with gateway.post("/api/register", json=person) as r:
        assert r.status == 201, await r.text()
        contact_id = (await r.json())["contact_id"]
    old = welcome_fields((await smtp.welcome(person["email"]))[0])

    await console_login(page, staff_support)
    await page.goto(f"/admin/contacts/{contact_id}/access")
    await expect(page.get_by_role("heading", name="Access of Ari Access")).to_be_visible()
    await page.get_by_label("Page path").fill("/gold/lessons")
    await page.get_by_role("button", name="Check").click()
    verdict = page.locator(".verdict")
    await expect(verdict).to_have_text("They cannot open /gold/lessons.")
    await expect(page.locator(".reasons")).to_contain_text("Gold")  # why: the levels that open it
    await assert_accessible(page, axe_source)
    await page.screenshot(path=screenshots / "admin-access.png", full_page=True)

    await page.get_by_role("button", name="Resend login credentials").click()
    await expect(page.get_by_role("status").first).to_contain_text("A fresh login link is on its way")
    await assert_accessible(page, axe_source)
    fresh = welcome_fields((await smtp.wait_for(person["email"], subject="Your login details"))[0])
    assert fresh["token"] != old["token"]

    # The old link no longer works; the fresh one does.
    await page.goto(old["link"])
    await page.get_by_label("New password (at least 8 characters)").fill("amber lantern 42")
    await page.get_by_label("The same password again").fill("amber lantern 42")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("alert")).to_contain_text("This link is no longer valid")
    await page.goto(fresh["link"])
    await page.get_by_label("New password (at least 8 characters)").fill("amber lantern 42")
    await page.get_by_label("The same password again").fill("amber lantern 42")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_contain_text(fresh["username"])
