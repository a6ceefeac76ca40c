"""The console's set-up and operations pages through the gateway, as a browser uses them (forms with
their CSRF token, redirects not followed): every page opens for an owner; support staff get the 403
page for site settings, products and API keys; a refused form says why on the page."""

import re
import uuid
from html import unescape

from tests.conftest import eventually
from tests.e2e.api.dead_letters import park_in_billing_dead_letters

PAGES = ("/admin/products", "/admin/programs", "/admin/pages", "/admin/rules", "/admin/registration",
         "/admin/settings", "/admin/templates", "/admin/templates/welcome", "/admin/sequences", "/admin/webhooks",
         "/admin/api-keys", "/admin/messages", "/admin/deliveries", "/admin/dead-letters")
OWNER_ONLY = ("/admin/products", "/admin/settings", "/admin/api-keys")


async def page(client, path: str, status: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as r:
        html = await r.text()
        assert r.status == status, (path, r.status, html[:800])
        return html


async def post(client, path: str, form: dict, *, from_page: str, status: int = 303) -> tuple[str, str]:
    """Submit a form of ``from_page`` (its CSRF token); (Location, body)."""
    csrf = unescape(re.search(r'name="csrf_token" value="([^"]+)"', await page(client, from_page)).group(1))
    async with client.post(path, data={"csrf_token": csrf, **form}, allow_redirects=False) as r:
        body = await r.text()
        assert r.status == status, (path, r.status, alert(body) or body[:800])
        return r.headers.get("Location", ""), body


def alert(html: str) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else ""


async def test_every_page_opens_for_an_owner_and_support_gets_403_for_the_owners_ones(owner_console, support_console):
    for path in PAGES:
        html = await page(owner_console, path)
        assert "<h1>" in html and 'class="error"' not in html, path
    for path in PAGES:  # every text is in the French catalogue too
        html = await page(owner_console, path + "?lang=fr")
        assert '<html lang="fr">' in html, path
    assert "Paramètres du site" in await page(owner_console, "/admin/settings")
    for path in PAGES:
        html = await page(support_console, path, 403 if path in OWNER_ONLY else 200)
        if path in OWNER_ONLY:
            assert "Only the site&#39;s owner" in html
    await post(support_console, "/admin/settings", {"post_login_redirect": "customer_center"},
               from_page="/admin/programs", status=403)
    await post(support_console, "/admin/api-keys", {"label": "x"}, from_page="/admin/programs", status=403)


async def test_a_redirect_page_members_cannot_open_is_refused_with_the_levels_named(owner_console):
    _, html = await post(owner_console, "/admin/settings", {"post_login_redirect": "/gold/lessons",
                                                             "customer_center_enabled": "on", "language": "en"},
                         from_page="/admin/settings", status=422)
    assert "Members / Free" in alert(html) and "could not open that page" in alert(html)
    assert 'value="/gold/lessons"' in html, "what was typed is kept"
    # (a page path every level opens would do too; other tests add levels to the demo site)
    location, _ = await post(owner_console, "/admin/settings", {"post_login_redirect": "customer_center",
                                                                 "customer_center_enabled": "on", "language": "en"},
                             from_page="/admin/settings")
    assert location == "/admin/settings?done=saved"
    assert 'value="customer_center"' in await page(owner_console, "/admin/settings")


async def test_set_up_forms_create_and_a_bad_one_names_the_field(owner_console):
    name = "Plan " + uuid.uuid4().hex[:6]
    location, _ = await post(owner_console, "/admin/products", {"name": name, "kind": "payment_plan", "price": "30.00",
                                                                 "currency": "USD", "interval": "month",
                                                                 "installments": "3"}, from_page="/admin/products")
    assert location == "/admin/products?done=product_created"
    assert name in await page(owner_console, "/admin/products")
    _, html = await post(owner_console, "/admin/products", {"name": "No interval", "kind": "subscription",
                                                            "price": "9", "currency": "USD"},
                         from_page="/admin/products", status=422)
    assert "needs an interval" in alert(html)
    _, html = await post(owner_console, "/admin/products", {"name": "x", "kind": "one_time", "price": "nine"},
                         from_page="/admin/products", status=422)
    assert "amount such as 19.00" in alert(html)
    program = "Program " + uuid.uuid4().hex[:6]
    await post(owner_console, "/admin/programs", {"name": program}, from_page="/admin/programs")
    assert program in await page(owner_console, "/admin/programs")


async def test_an_api_key_is_shown_once_and_revoked(owner_console, gateway):
    label = "console " + uuid.uuid4().hex[:6]
    _, html = await post(owner_console, "/admin/api-keys", {"label": label}, from_page="/admin/api-keys", status=200)
    key = re.search(r'id="new-key" value="([^"]+)"', html).group(1)
    async with gateway.get("/admin/api/site", headers={"X-Api-Key": key}) as r:
        assert r.status == 200
    listing = await page(owner_console, "/admin/api-keys")
    assert label in listing and key not in listing
    revoke = re.findall(r'/admin/api-keys/([0-9a-f-]+)/revoke".*?aria-label="Revoke the key ([^"]+)"', listing)
    key_id = next(i for i, lab in revoke if unescape(lab) == label)
    location, _ = await post(owner_console, f"/admin/api-keys/{key_id}/revoke", {}, from_page="/admin/api-keys")
    assert location == "/admin/api-keys?done=key_revoked"
    async with gateway.get("/admin/api/site", headers={"X-Api-Key": key}) as r:
        assert r.status == 401
    async with gateway.get("/admin/api/audit", headers={"X-Api-Key": key}) as r:
        assert r.status == 401


async def test_a_template_preview_shows_the_draft_and_an_undeclared_field_is_named(support_console):
    draft = {"subject": "Hi {{ first_name }}", "text": "Welcome to {{ site_name }}", "html": "<p>Hi</p>",
             "action": "preview"}
    _, html = await post(support_console, "/admin/templates/welcome", draft, from_page="/admin/templates/welcome",
                         status=200)
    assert '<dd data-preview="subject">Hi Ada</dd>' in html and "Welcome to Demo Academy" in html
    _, html = await post(support_console, "/admin/templates/welcome", {**draft, "text": "{{ shoe_size }}"},
                         from_page="/admin/templates/welcome", status=422)
    assert "shoe_size" in alert(html)


async def test_a_dead_letter_is_listed_and_replayed_from_the_console(support_console, amqp, bus_prefix, db):
    parked = await park_in_billing_dead_letters(amqp, bus_prefix)

    async def listed():
        return parked["id"] in await page(support_console, "/admin/dead-letters")

    await eventually(listed, message="the dead letter on the page")
    location, _ = await post(support_console, f"/admin/dead-letters/{parked['id']}/replay", {},
                             from_page="/admin/dead-letters")
    assert location == "/admin/dead-letters?done=dead_letter_replayed"
    contact_id = uuid.UUID(parked["payload"]["contact_id"])

    async def applied():
        return await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", contact_id) or None

    assert await eventually(applied) == 1
    _, html = await post(support_console, f"/admin/dead-letters/{parked['id']}/replay", {},
                         from_page="/admin/dead-letters", status=404)
    assert alert(html)
