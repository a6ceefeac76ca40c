"""Staff log in to the admin console at /admin/login: auth's argon2id and throttling, a session
cookie of the console's own, CSRF on every form, and no crossing with contacts' sessions."""

import re
import uuid

from services.ops.staff import create_staff
from tests.conftest import ADMIN_KEY, StaffAccount, _staff, console_login
from tests.e2e.helpers import sign_up_and_log_in


def _normalised(html: str, *values: str) -> str:
    """A page without what differs by design between two answers: the CSP nonce and echoed input."""
    html = re.sub(r'nonce="[^"]+"', 'nonce=""', html)
    for value in values:
        html = html.replace(value, "…")
    return html


async def test_owner_logs_in_with_a_console_cookie_of_its_own(console_client, staff_owner):
    response = await console_login(console_client, staff_owner)
    assert response.headers["Location"] == "/admin/contacts"
    cookie = next(v for v in response.headers.getall("Set-Cookie") if v.startswith("cc_admin="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/admin" in cookie
    assert "cc_access" not in " ".join(response.headers.getall("Set-Cookie"))  # not a contact's session
    async with console_client.get("/admin/audit", allow_redirects=False) as r:
        html = await r.text()
        assert r.status == 200, html[:300]
    assert staff_owner.email in html and "Audit log" in html
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self'")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_console_page_without_a_session_goes_to_the_login_and_back(console_client, staff_owner):
    async with console_client.get("/admin/audit?limit=5", allow_redirects=False) as r:
        assert r.status == 303
        assert r.headers["Location"] == "/admin/login?next=%2Fadmin%2Faudit%3Flimit%3D5"
    async with console_client.get(r.headers["Location"]) as r:
        html = await r.text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = {"csrf_token": csrf, "site": "demo", "email": staff_owner.email, "password": staff_owner.password,
            "next": "/admin/audit?limit=5"}
    async with console_client.post("/admin/login", data=form, allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (303, "/admin/audit?limit=5")
    form["next"] = "https://evil.example/admin/"
    async with console_client.post("/admin/login", data=form, allow_redirects=False) as r:
        assert (r.status, r.headers["Location"]) == (303, "/admin/contacts")


async def test_wrong_password_and_unknown_email_answer_alike(console_client, staff_support):
    unknown = StaffAccount(email=f"nobody-{uuid.uuid4().hex[:8]}@staff.example.org", password="whatever it is", role="support")
    wrong = await _login_page_answer(console_client, staff_support, "not the password")
    missing = await _login_page_answer(console_client, unknown, "not the password")
    assert wrong[0] == missing[0] == 401
    assert _normalised(wrong[1], staff_support.email) == _normalised(missing[1], unknown.email)
    assert "The email or password is wrong." in wrong[1]
    assert "cc_admin=" not in wrong[2]


async def _login_page_answer(client, account, password):
    async with client.get("/admin/login?site=demo") as r:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
    form = {"csrf_token": csrf, "site": "demo", "email": account.email, "password": password}
    async with client.post("/admin/login", data=form, allow_redirects=False) as r:
        return r.status, await r.text(), " ".join(r.headers.getall("Set-Cookie", []))


async def test_failed_staff_logins_are_throttled_like_contacts(console_client, database_url):
    account = await _staff(database_url, "support")
    for _ in range(10):
        await console_login(console_client, account, password="a wrong guess", expect=401)
    await console_login(console_client, account, expect=429)  # even the right password, now
    async with console_client.get("/admin/login?site=demo") as r:
        assert r.status == 200


async def test_a_contacts_session_never_opens_the_console(gateway, smtp, console_client):
    contact = await sign_up_and_log_in(gateway, smtp)
    bearer = {"Authorization": f"Bearer {contact['tokens']['access_token']}"}
    async with console_client.get("/admin/audit", headers=bearer, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login")
    console_client.cookie_jar.update_cookies({"cc_access": contact["tokens"]["access_token"], "cc_admin": contact["tokens"]["access_token"]})
    async with console_client.get("/admin/audit", allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/admin/login")


async def test_a_staff_session_never_acts_as_a_contact(owner_console, gateway):
    token = next(c.value for c in owner_console.cookie_jar if c.key == "cc_admin")
    async with gateway.get("/api/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401
    async with gateway.get("/api/me", cookies={"cc_access": token}) as r:
        assert r.status == 401
    async with gateway.get("/admin/api/audit", headers={"X-Api-Key": token}) as r:
        assert r.status == 401


async def test_console_forms_refuse_a_missing_or_foreign_csrf_token(owner_console, console_client, staff_owner):
    async with console_client.post("/admin/login", data={"site": "demo", "email": staff_owner.email,
                                                         "password": staff_owner.password}, allow_redirects=False) as r:
        html = await r.text()
        assert r.status == 403 and "The form expired" in html and "cc_admin=" not in str(r.headers)
    async with owner_console.post("/admin/logout", data={"csrf_token": "x" * 43}, allow_redirects=False) as r:
        assert r.status == 403
    csrf = next(c.value for c in owner_console.cookie_jar if c.key == "cc_csrf")
    async with owner_console.post("/admin/logout", data={"csrf_token": csrf}, allow_redirects=False,
                                  headers={"Origin": "https://evil.example"}) as r:
        assert r.status == 403
    async with owner_console.get("/admin/audit", allow_redirects=False) as r:
        assert r.status == 200  # still logged in


async def test_logout_ends_the_console_session(owner_console):
    token = next(c.value for c in owner_console.cookie_jar if c.key == "cc_admin")
    csrf = next(c.value for c in owner_console.cookie_jar if c.key == "cc_csrf")
    async with owner_console.post("/admin/logout", data={"csrf_token": csrf}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == "/admin/login?site=demo&done=logged_out"
    owner_console.cookie_jar.update_cookies({"cc_admin": token})  # the old cookie, kept by someone
    async with owner_console.get("/admin/audit", allow_redirects=False) as r:
        assert r.status == 303


async def test_the_audit_api_needs_an_admin_key_and_a_valid_query(gateway):
    async with gateway.get("/admin/api/audit") as r:
        assert r.status == 401
    async with gateway.get("/admin/api/audit?limit=500", headers={"X-Api-Key": ADMIN_KEY}) as r:
        assert r.status == 422 and "limit" in (await r.json())["error"]["details"]["fields"]
    async with gateway.get("/admin/api/audit?limit=5", headers={"X-Api-Key": ADMIN_KEY}) as r:
        assert r.status == 200, await r.text()
        assert set(await r.json()) == {"entries", "next_before"}


async def test_support_staff_are_not_offered_the_owners_sections(owner_console, support_console):
    owner_nav = await (await owner_console.get("/admin/audit")).text()
    support_nav = await (await support_console.get("/admin/audit")).text()
    for owners_only in ('href="/admin/settings"', 'href="/admin/products"', 'href="/admin/api-keys"'):
        assert owners_only in owner_nav and owners_only not in support_nav
    assert 'href="/admin/contacts"' in support_nav and "(support)" in support_nav


async def test_a_new_password_from_the_cli_ends_the_sessions_opened_with_the_old_one(console_client, database_url):
    account = await _staff(database_url, "support")
    await console_login(console_client, account)
    async with console_client.get("/admin/audit", allow_redirects=False) as r:
        assert r.status == 200
    renewed = StaffAccount(email=account.email, password="a brand new passphrase", role="support")
    await create_staff(database_url, site_slug="demo", email=account.email, role="support", password=renewed.password)
    async with console_client.get("/admin/audit", allow_redirects=False) as r:
        assert r.status == 303  # the session opened with the old password is over
    await console_login(console_client, account, expect=401)
    await console_login(console_client, renewed)


async def test_an_unknown_site_is_a_page_that_says_so(console_client):
    async with console_client.get("/admin/login?site=no-such-site") as r:
        html = await r.text()
        assert r.status == 404 and "No site by that name." in html and "<nav class=\"console-nav\"" not in html
