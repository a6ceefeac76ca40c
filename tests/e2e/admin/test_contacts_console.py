"""The console's contact pages over HTTP: search, the record and its forms (each change audited
with the staff member's name), Purchases, the Access panel; a bad input is a message on the page."""

import re
import uuid
from html import unescape

from services.membership.seed import demo_id
from tests.conftest import ADMIN_KEY
from tests.factories import unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}
GOLD = str(demo_id("level:gold"))


async def _contact(gateway, **extra) -> dict:
    body = {"email": unique_email("console"), "first_name": "Cora", "last_name": "Console-" + uuid.uuid4().hex[:6], **extra}
    async with gateway.post("/admin/api/contacts", json=body, headers=ADMIN) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def _page(client, path: str, expect: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as r:
        html = await r.text()
        assert r.status == expect, (r.status, html[:800])
        return html


async def _post(client, path: str, form: dict, html: str) -> str:
    """Submit a form of ``html`` as a browser does; → the page the 303 leads to."""
    csrf = unescape(re.search(r'name="csrf_token" value="([^"]+)"', html).group(1))
    async with client.post(path, data={"csrf_token": csrf, **form}, allow_redirects=False) as r:
        assert r.status == 303, (r.status, (await r.text())[:800])
        location = r.headers["Location"]
    return await _page(client, location)


async def test_support_finds_a_contact_by_name_or_email(support_console, gateway):
    contact = await _contact(gateway)
    for q in (contact["last_name"], contact["email"].upper()):
        html = await _page(support_console, f"/admin/contacts?q={q}")
        assert f'href="/admin/contacts/{contact["id"]}"' in html and "Contacts 1 to 1 of 1" in html
    assert "No contact matches." in await _page(support_console, "/admin/contacts?q=nobody-" + uuid.uuid4().hex)


async def test_the_search_results_come_in_pages(support_console, gateway):
    marker = "Paged" + uuid.uuid4().hex[:6]
    for _ in range(27):
        await _contact(gateway, last_name=marker)
    html = await _page(support_console, f"/admin/contacts?q={marker}")
    assert "Contacts 1 to 25 of 27" in html and 'rel="next"' in html and 'rel="prev"' not in html
    html = await _page(support_console, unescape(re.search(r'href="([^"]+)" rel="next"', html).group(1)))
    assert "Contacts 26 to 27 of 27" in html and 'rel="prev"' in html and 'rel="next"' not in html


async def test_staff_edit_tags_and_fields_and_the_change_is_audited_in_their_name(owner_console, staff_owner, gateway):
    contact = await _contact(gateway)
    html = await _page(owner_console, f"/admin/contacts/{contact['id']}")
    html = await _post(owner_console, f"/admin/contacts/{contact['id']}", {
        "first_name": "Cora", "last_name": contact["last_name"], "email": contact["email"], "tags": "vip, early bird",
    }, html)
    assert "The contact is saved." in html
    async with gateway.get(f"/admin/api/contacts/{contact['id']}", headers=ADMIN) as r:
        assert (await r.json())["tags"] == ["early bird", "vip"]
    async with gateway.get(f"/admin/api/audit?contact_id={contact['id']}", headers=ADMIN) as r:
        entry = (await r.json())["entries"][0]
    assert entry["action"] == "contact.updated"
    assert entry["actor"] == {"kind": "staff", "id": entry["actor"]["id"], "name": staff_owner.email, "role": "owner"}
    assert entry["before"]["tags"] == [] and entry["after"]["tags"] == ["early bird", "vip"]
    assert "contact.updated" in html and "early bird" in html  # the record shows its audit entries


async def test_a_bad_input_is_a_message_on_the_page_not_a_stack_trace(owner_console, gateway):
    contact = await _contact(gateway)
    html = await _page(owner_console, f"/admin/contacts/{contact['id']}")
    html = await _post(owner_console, f"/admin/contacts/{contact['id']}", {
        "first_name": "Cora", "last_name": "X", "email": "not an email", "tags": "",
    }, html)
    assert 'role="alert"' in html and "check each field" in html and "email" in html
    assert "Traceback" not in html
    assert "Not found." in await _page(owner_console, f"/admin/contacts/{uuid.uuid4()}", expect=404)
    assert "Not found" in await _page(owner_console, "/admin/contacts/not-an-id", expect=404)


async def test_staff_grant_and_revoke_a_level(support_console, gateway):
    contact = await _contact(gateway)
    html = await _page(support_console, f"/admin/contacts/{contact['id']}")
    html = await _post(support_console, f"/admin/contacts/{contact['id']}/grants", {"level_id": GOLD, "ends_on": ""}, html)
    assert "The level is granted." in html
    grant_id = re.search(r'/grants/([0-9a-f-]{36})/revoke', html).group(1)
    html = await _post(support_console, f"/admin/contacts/{contact['id']}/grants/{grant_id}/revoke", {"reason": "asked"}, html)
    assert "The membership is revoked." in html
    html = await _post(support_console, f"/admin/contacts/{contact['id']}/grants/{grant_id}/revoke", {"reason": "again"}, html)
    assert "This membership has already ended." in html


async def test_the_access_panel_and_purchases_show(support_console, gateway):
    contact = await _contact(gateway)
    html = await _page(support_console, f"/admin/contacts/{contact['id']}/access?page=/gold/lessons")
    assert "They cannot open /gold/lessons." in html and "Resend login credentials" in html
    html = await _page(support_console, f"/admin/contacts/{contact['id']}/access?page=no-slash")
    assert 'role="alert"' in html
    html = await _page(support_console, f"/admin/contacts/{contact['id']}/purchases")
    assert "No subscriptions or payment plans." in html


async def test_french_console(support_console, gateway):
    contact = await _contact(gateway)
    html = await _page(support_console, f"/admin/contacts/{contact['id']}?lang=fr")
    assert 'lang="fr"' in html and "Adhésions" in html and "Journal d&#39;audit" in html
