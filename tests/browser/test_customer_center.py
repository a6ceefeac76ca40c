"""The Must show of the Customer Center, in Chromium: a new customer buys a subscription on the order
form, gets the welcome email, sets a password through its link, logs in and lands on the configured
page, sees the paid invoice, adds a second card and uses it for everything, changes the password and
cancels with a reason. axe-core checks every page; each section's screenshot is saved."""

import re

from playwright.async_api import expect

from services.membership.seed import demo_id
from tests.browser.conftest import assert_accessible
from tests.e2e.helpers import welcome_fields
from tests.factories import unique_email

MONTHLY = str(demo_id("product:monthly"))
SECTIONS = ("invoices", "payments", "orders", "cards", "account")


async def fill_card(page, number: str) -> None:
    await page.get_by_label("Card number").fill(number)
    await page.get_by_label("Expiry month (MM)").fill("12")
    await page.get_by_label("Expiry year (YYYY)").fill("2099")
    await page.get_by_label("Security code (CVC)").fill("123")


async def test_new_customer_buys_logs_in_and_manages_everything(browser_page, smtp, db, axe_source, screenshots):
    page = browser_page
    email = unique_email("browser")
    card_numbers_seen_by_gateway = []
    page.on("request", lambda r: card_numbers_seen_by_gateway.append(r.url)
            if r.method == "POST" and "4242424242424242" in (r.post_data or "") and "/sandbox/v1/tokens" not in r.url else None)

    # The order form: the card goes to the processor, the form posts only its token.
    await page.goto(f"/checkout/{MONTHLY}?site=demo")
    await assert_accessible(page, axe_source)
    await page.get_by_label("First name").fill("Carla")
    await page.get_by_label("Last name").fill("Chrome")
    await page.get_by_label("Email address").fill(email)
    await fill_card(page, "4242424242424242")
    await page.get_by_role("button", name=re.compile(r"^Pay \$19\.00")).click()
    await expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    await assert_accessible(page, axe_source)
    assert card_numbers_seen_by_gateway == []

    # The welcome email's link: opening it shows a form; the person's POST sets the password.
    fields = welcome_fields((await smtp.welcome(email))[0])
    await page.goto(fields["link"])
    await assert_accessible(page, axe_source)
    await page.get_by_label("New password (at least 8 characters)").fill("violet harbour 31")
    await page.get_by_label("The same password again").fill("violet harbour 31")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.get_by_role("status")).to_contain_text(fields["username"])
    await assert_accessible(page, axe_source)
    await page.get_by_role("link", name="Log in now").click()

    # Log in: the site's post-login page (the Customer Center by default).
    await assert_accessible(page, axe_source)
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page.get_by_role("heading", name="Forgot your password")).to_be_visible()
    await assert_accessible(page, axe_source)
    await page.go_back()
    await page.get_by_label("Username or email").fill(fields["username"])
    await page.get_by_label("Password").fill("violet harbour 31")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/center$"))
    await expect(page.get_by_role("heading", name="Customer Center", level=1)).to_be_visible()
    await assert_accessible(page, axe_source)

    # The paid invoice in payment history.
    await page.goto("/center/payments")
    row = page.get_by_role("row").filter(has_text="$19.00")
    await expect(row).to_contain_text("Paid")
    await assert_accessible(page, axe_source)
    # Its printable receipt; the print button is the one script the receipt's CSP lets run.
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    await row.get_by_role("link", name=re.compile("^Receipt")).click()
    await expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    await expect(page.get_by_text("$19.00")).to_be_visible()
    await assert_accessible(page, axe_source)
    await page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    await page.get_by_role("button", name="Print").click()
    await expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    assert violations == []

    # A second card, then "Use this card" on it.
    await page.goto("/center/cards")
    await fill_card(page, "5555555555554444")
    await page.get_by_role("button", name="Add card").click()
    await expect(page.get_by_role("status")).to_have_text("The card is added.")
    await page.get_by_role("button", name="Use this card (Mastercard ending in 4444) for every subscription and payment plan").click()
    await expect(page.get_by_role("status")).to_contain_text("now pays every subscription")
    await assert_accessible(page, axe_source)
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    assert await db.fetchval(
        "SELECT c.last4 FROM billing.orders o JOIN billing.cards c ON c.id = o.card_id WHERE o.contact_id = $1", contact_id
    ) == "4444"

    # Change the password (and the new one works).
    await page.goto("/center/account")
    await page.get_by_label("Current password").nth(1).fill("violet harbour 31")
    await page.get_by_label("New password (at least 8 characters)").fill("amber canyon 64")
    await page.get_by_label("The new password again").fill("amber canyon 64")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    await assert_accessible(page, axe_source)

    # Screenshots of each section, each checked by axe.
    for section in SECTIONS:
        await page.goto(f"/center/{section}")
        await assert_accessible(page, axe_source)
        await page.screenshot(path=str(screenshots / f"center-{section}.png"), full_page=True)

    # Cancel with a reason, at the end of the paid period.
    await page.goto("/center/orders")
    await page.get_by_text("Cancel…").click()
    await page.get_by_label("Why are you cancelling?").fill("Moving to another plan")
    await page.get_by_label("At the end of the paid period").check()
    await assert_accessible(page, axe_source)
    await page.get_by_role("button", name="Cancel the subscription").click()
    await expect(page.get_by_role("status")).to_have_text("The subscription is cancelled.")
    await expect(page.get_by_text(re.compile(r"Ends on \d{4}-\d{2}-\d{2}"))).to_be_visible()
    reason = await db.fetchval("SELECT cancel_reason FROM billing.orders WHERE contact_id = $1", contact_id)
    assert reason == "Moving to another plan"

    # Logged out, then in with the new password.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("status")).to_have_text("You are logged out.")
    await page.get_by_label("Username or email").fill(fields["username"])
    await page.get_by_label("Password").fill("amber canyon 64")
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/center$"))


async def test_a_declined_card_on_the_french_order_form_says_why(browser_page, axe_source, db):
    page = browser_page
    email = unique_email("refused")
    await page.goto(f"/checkout/{MONTHLY}?site=demo&lang=fr")
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await assert_accessible(page, axe_source)
    await page.get_by_label("Prénom").fill("Dana")
    await page.get_by_label("Nom", exact=True).fill("Declined")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Numéro de carte").fill("4000000000000002")
    await page.get_by_label("Mois d'expiration (MM)").fill("12")
    await page.get_by_label("Année d'expiration (AAAA)").fill("2099")
    await page.get_by_label("Cryptogramme (CVC)").fill("123")
    await page.get_by_role("button", name=re.compile(r"^Payer")).click()
    await expect(page.get_by_role("alert")).to_have_text("La carte a été refusée.")
    await assert_accessible(page, axe_source)
    contact_id = await db.fetchval("SELECT id FROM membership.contacts WHERE email = $1", email)
    assert await db.fetchval("SELECT count(*) FROM billing.orders WHERE contact_id = $1", contact_id) == 0
    # The Luhn-invalid number never leaves the browser for the form: the processor refuses it first.
    await page.get_by_label("Numéro de carte").fill("4242424242424241")
    await page.get_by_label("Mois d'expiration (MM)").fill("12")
    await page.get_by_label("Année d'expiration (AAAA)").fill("2099")
    await page.get_by_label("Cryptogramme (CVC)").fill("123")
    await page.get_by_role("button", name=re.compile(r"^Payer")).click()
    await expect(page.locator("[data-card-error]")).to_be_visible()
