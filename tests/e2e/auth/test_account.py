"""The contact's own login: username, forgotten password, links that work once and are kept only as
hashes, an admin's resend, the page to open after logging in."""

import json
import signal
from urllib.parse import parse_qs, urlsplit

from shared.events.auth import PasswordResetRequested
from tests.conftest import ADMIN_KEY, eventually, open_link
from tests.e2e.auth.conftest import login, sha256
from tests.e2e.helpers import sign_up_and_log_in, welcome_fields
from tests.factories import registration, unique_email


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


async def set_password(gateway, token: str, password: str) -> tuple[int, dict]:
    async with gateway.post("/api/password/set", json={"token": token, "new_password": password}) as r:
        return r.status, await r.json()


async def test_a_username_change_needs_the_password_is_unique_per_site_and_is_announced(gateway, smtp, auth_events):
    person = await sign_up_and_log_in(gateway, smtp)
    other = await sign_up_and_log_in(gateway, smtp)
    change = {"new_username": "ann.lee." + person["contact_id"][:8], "current_password": person["password"]}
    cases = [
        (dict(change, current_password="not the password"), 403, "current_password_incorrect"),
        (dict(change, new_username=other["email"].upper()), 409, "username_taken"),
        (dict(change, new_username="has a space"), 422, "username_rejected"),
        ({"new_username": "x-y-z"}, 422, "validation_failed"),
    ]
    for body, status, code in cases:
        async with gateway.put("/api/account/username", headers=person["auth"], json=body) as r:
            assert r.status == status, (body, await r.text())
            assert (await r.json())["error"]["code"] == code
    async with gateway.put("/api/account/username", headers=person["auth"], json=change) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["username"] == change["new_username"]
    event = await auth_events.wait_for("auth.username.changed", contact_id=person["contact_id"])
    assert (event["old_username"], event["new_username"]) == (person["email"], change["new_username"])
    assert (await login(gateway, "demo", change["new_username"].upper(), person["password"]))[0] == 200
    assert (await login(gateway, "demo", person["email"], person["password"]))[0] == 401
    # The old name is free again for someone else.
    async with gateway.put("/api/account/username", headers=other["auth"],
                           json={"new_username": person["email"], "current_password": other["password"]}) as r:
        assert r.status == 200


async def test_forgot_password_always_answers_202_and_its_link_works_once(system, gateway, smtp, db, auth_events, log_dir):
    person = await sign_up_and_log_in(gateway, smtp)
    for email in (unique_email("unknown"), person["email"].upper()):
        async with gateway.post("/api/password/forgot", json={"site": "demo", "email": email}) as r:
            assert r.status == 202 and await r.json() == {"status": "accepted"}
    event = await auth_events.wait_for("auth.password_reset.requested", contact_id=person["contact_id"])
    assert len(auth_events.of("auth.password_reset.requested")) == 1  # nothing for the unknown email
    # The event carries the link sealed: no plain token on the bus; notify (here the test, with the
    # run's CC_LINK_KEYS) opens it.
    assert "reset_url" not in event and "token=" not in json.dumps(event)
    assert event["reset_link"].startswith("sealed.v1.test.")
    reset_url = open_link(PasswordResetRequested, event, "reset_link")
    assert reset_url.startswith(system.processes["gateway"].url + "/password/set?token=")
    token = token_of(reset_url)
    row = await db.fetchrow("SELECT * FROM auth.password_tokens WHERE token_hash = $1", sha256(token))
    assert row["purpose"] == "reset" and row["used_at"] is None
    assert 3500 < (row["expires_at"] - row["created_at"]).total_seconds() <= 3600
    assert await db.fetchval("SELECT count(*) FROM auth.password_tokens t WHERE strpos(t::text, $1) > 0", token) == 0

    # The reset link works on the set-password page and in the API, once; the sessions before it end.
    page = urlsplit(reset_url)
    async with gateway.get(f"{page.path}?{page.query}") as r:
        assert r.status == 200 and token in await r.text()
    status, body = await set_password(gateway, token, "reset passphrase number one")
    assert status == 200 and body["username"] == person["email"]
    status, body = await set_password(gateway, token, "reset passphrase number two")
    assert status == 400 and body["error"]["code"] == "token_invalid"
    assert (await login(gateway, "demo", person["email"], "reset passphrase number one"))[0] == 200

    async def refused():
        async with gateway.get("/api/me", headers=person["auth"]) as r:
            return r.status == 401

    await eventually(refused, timeout=5, message="the session before the reset ending")
    await auth_events.wait_for("auth.password.changed", contact_id=person["contact_id"])
    async with gateway.post("/api/password/forgot", json={"site": "demo"}) as r:
        assert r.status == 422
    logs = "\n".join((log_dir / f"{name}.log").read_text() for name in system.processes)
    assert token not in logs and "reset passphrase number" not in logs and sha256(token).hex() not in logs


async def test_an_expired_reset_link_is_refused(gateway, smtp, db, auth_events):
    person = await sign_up_and_log_in(gateway, smtp)
    async with gateway.post("/api/password/forgot", json={"site": "demo", "email": person["email"]}) as r:
        assert r.status == 202
    event = await auth_events.wait_for("auth.password_reset.requested", contact_id=person["contact_id"])
    token = token_of(open_link(PasswordResetRequested, event, "reset_link"))
    # An hour passes (the clock moved by rewriting the expiry, the only state the test changes).
    await db.execute("UPDATE auth.password_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
                     sha256(token))
    status, body = await set_password(gateway, token, "too late passphrase")
    assert status == 400 and body["error"]["code"] == "token_invalid"
    assert (await login(gateway, "demo", person["email"], person["password"]))[0] == 200


async def test_set_password_links_are_stored_as_hashes_expire_and_work_once(gateway, smtp, db):
    body = registration()
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201
    token = welcome_fields((await smtp.wait_for(body["email"]))[0])["token"]
    row = await db.fetchrow("SELECT * FROM auth.password_tokens WHERE token_hash = $1", sha256(token))
    assert row["purpose"] == "set_password"
    assert await db.fetchval("SELECT count(*) FROM auth.password_tokens t WHERE strpos(t::text, $1) > 0", token) == 0
    await db.execute("UPDATE auth.password_tokens SET expires_at = now() - interval '1 second' WHERE id = $1", row["id"])
    assert (await set_password(gateway, token, "a good passphrase here"))[0] == 400
    await db.execute("UPDATE auth.password_tokens SET expires_at = now() + interval '1 hour' WHERE id = $1", row["id"])
    assert (await set_password(gateway, token, "a good passphrase here"))[0] == 200
    assert (await set_password(gateway, token, "a good passphrase here"))[0] == 400
    status, answer = await set_password(gateway, "a" * 43, "a good passphrase here")
    assert status == 400 and answer["error"]["code"] == "token_invalid"


async def test_an_admin_resends_credentials_and_every_older_link_dies(gateway, smtp):
    body = registration(first_name="Rae")
    async with gateway.post("/api/register", json=body) as r:
        contact_id = (await r.json())["contact_id"]
    old = welcome_fields((await smtp.wait_for(body["email"]))[0])
    path = f"/admin/api/contacts/{contact_id}/resend-credentials"
    async with gateway.post(path) as r:
        assert r.status == 401
    async with gateway.post(path, headers={"X-Api-Key": ADMIN_KEY}) as r:
        assert r.status == 202, await r.text()
        assert (await r.json())["username"] == body["email"]
    new = welcome_fields((await smtp.wait_for(body["email"], count=2))[1])
    assert new["token"] != old["token"] and new["username"] == body["email"] and "Free" in new["text"]
    assert (await set_password(gateway, old["token"], "resent passphrase one"))[0] == 400
    assert (await set_password(gateway, new["token"], "resent passphrase one"))[0] == 200
    assert (await login(gateway, "demo", body["email"], "resent passphrase one"))[0] == 200
    async with gateway.post("/admin/api/contacts/00000000-0000-0000-0000-000000000000/resend-credentials",
                            headers={"X-Api-Key": ADMIN_KEY}) as r:
        assert r.status == 404 and (await r.json())["error"]["code"] == "not_found"


async def test_login_answers_the_customer_center_when_membership_cannot_say(system, gateway, smtp, log_dir):
    person = await sign_up_and_log_in(gateway, smtp)
    system.stop("membership", signal.SIGKILL)
    try:
        status, tokens = await login(gateway, "demo", person["email"], person["password"])
    finally:
        system.start("membership")
        system.wait_ready(["membership"])
    assert status == 200 and tokens["redirect"] == "/center"
    log = (log_dir / "auth.log").read_text()
    assert '"reason": "membership_unavailable"' in log and "login.landing_default" in log
