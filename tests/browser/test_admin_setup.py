"""Issue 11's Must show 2 and 4 in Chromium: a support member cannot open site settings (the 403
page) and an owner can, where saving a post-login page members could not open says why; a held
message and a dead letter are visible, and replaying the dead letter applies it once. axe-core
checks every page."""

import re
import uuid

from playwright.async_api import expect

from tests.browser.conftest import assert_accessible
from tests.conftest import eventually
from tests.e2e.api.dead_letters import park_in_billing_dead_letters
from tests.factories import registration, unique_email


async def log_in(page, account, then: str = "/admin/programs") -> None:
    await page.goto(f"/admin/login?site={account.site}&next={then}")
    await page.get_by_label("Email address").fill(account.email)
    await page.get_by_label("Password").fill(account.password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("navigation", name="Console sections")).to_be_visible()


async def test_support_gets_403_on_site_settings_and_an_owner_saves_them_with_reasons(
        chromium, system, staff_support, staff_owner, axe_source, screenshots):
    for account in (staff_support, staff_owner):
        context = await chromium.new_context(base_url=system.processes["gateway"].url)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        try:
            await log_in(page, account)
            nav = page.get_by_role("navigation", name="Console sections")
            if account.role == "support":
                await expect(nav.get_by_role("link", name="Site settings")).to_have_count(0)
                response = await page.goto("/admin/settings")
                assert response.status == 403
                await expect(page.get_by_role("alert")).to_contain_text("Only the site's owner can do this")
                await assert_accessible(page, axe_source)
                continue
            for link in ("Products", "Programs and levels", "Protected pages", "Rules", "Registration",
                         "Email templates", "Sequences", "Webhooks", "API keys", "Webhook deliveries"):
                await nav.get_by_role("link", name=link).click()
                await expect(page.get_by_role("heading", level=1)).to_have_text(link)
                await assert_accessible(page, axe_source)
            await nav.get_by_role("link", name="Site settings").click()
            await expect(page.get_by_role("heading", name="Site settings")).to_be_visible()
            await assert_accessible(page, axe_source)
            await page.get_by_label("Post-login page").fill("/gold/lessons")
            await page.get_by_role("button", name="Save").click()
            alert = page.get_by_role("alert")
            await expect(alert).to_contain_text("could not open that page after logging in: Members / Free")
            await expect(page.get_by_label("Post-login page")).to_have_value("/gold/lessons")
            await assert_accessible(page, axe_source)
            await page.screenshot(path=screenshots / "admin-settings-refused.png", full_page=True)
            await page.get_by_label("Post-login page").fill("customer_center")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_role("status")).to_have_text("Saved.")
        finally:
            await context.close()


async def test_a_held_message_and_a_dead_letter_are_visible_and_the_replay_applies_once(
        browser_page, gateway, smtp, amqp, bus_prefix, db, staff_support, axe_source, screenshots):
    page = browser_page
    address = unique_email("held")
    smtp.replies[address] = ["550 5.1.1 No such user here"] * 10
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201
    parked = await park_in_billing_dead_letters(amqp, bus_prefix)
    contact_id = uuid.UUID(parked["payload"]["contact_id"])

    async def held():
        return await db.fetchval("SELECT true FROM notify.messages WHERE to_address = $1 AND status = 'held'", address)

    await eventually(held, timeout=20, message="the welcome email held")

    await log_in(page, staff_support)
    await page.get_by_role("link", name="Messages").click()
    row = page.get_by_role("row").filter(has_text=address)
    await expect(row).to_contain_text("held")
    await expect(row).to_contain_text("550")
    await assert_accessible(page, axe_source)

    await page.get_by_role("link", name="Dead letters").click()
    row = page.get_by_role("row").filter(has_text=parked["id"])
    await expect(row).to_contain_text("membership.contact.created")
    await expect(row).to_contain_text("billing")
    await assert_accessible(page, axe_source)
    await page.screenshot(path=screenshots / "admin-dead-letters.png", full_page=True)
    await row.get_by_role("button", name=re.compile("^Replay")).click()
    await expect(page.get_by_role("status")).to_have_text("The message was delivered again and applied.")
    await expect(page.get_by_role("row").filter(has_text=parked["id"])).to_have_count(0)

    async def applied():
        return await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", contact_id) or None

    assert await eventually(applied, message="billing applied the replayed event") == 1
    await page.reload()
    await expect(page.get_by_role("row").filter(has_text=parked["id"])).to_have_count(0)
    assert await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", contact_id) == 1
