"""Sessions: refresh tokens good once, reuse kills the session, logout and password changes end
access tokens at the gateway, signing keys rotate without logging anyone out."""

import os
import subprocess
import sys

import jwt

from services.system import ROOT
from tests.conftest import eventually
from tests.e2e.auth.conftest import bearer, login, sha256
from tests.e2e.helpers import sign_up_and_log_in


async def me_status(gateway, tokens) -> int:
    async with gateway.get("/api/me", headers=bearer(tokens)) as r:
        return r.status


async def refresh(gateway, refresh_token: str) -> tuple[int, dict]:
    async with gateway.post("/api/token/refresh", json={"refresh_token": refresh_token}) as r:
        return r.status, await r.json()


async def refused_soon(gateway, tokens) -> None:
    """The gateway learns of revoked sessions within a poll (about a second)."""

    async def refused():
        return await me_status(gateway, tokens) == 401

    await eventually(refused, timeout=5, message="the access token refused")


async def test_a_refresh_token_used_twice_kills_the_session(gateway, smtp, db):
    person = await sign_up_and_log_in(gateway, smtp)
    first = person["tokens"]
    status, second = await refresh(gateway, first["refresh_token"])
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"] and await me_status(gateway, second) == 200
    claims = [jwt.decode(t["access_token"], options={"verify_signature": False}) for t in (first, second)]
    assert claims[0]["sid"] == claims[1]["sid"]  # one session, rotated
    # Stored only as hashes.
    rows = await db.fetch("SELECT refresh_hash FROM auth.sessions WHERE family_id = $1::uuid", claims[0]["sid"])
    assert {bytes(r["refresh_hash"]) for r in rows} == {sha256(first["refresh_token"]), sha256(second["refresh_token"])}

    # The spent token again (a thief, or a replay): refused, and the whole session dies with it.
    status, body = await refresh(gateway, first["refresh_token"])
    assert status == 401 and body["error"]["code"] == "refresh_token_invalid"
    status, _ = await refresh(gateway, second["refresh_token"])
    assert status == 401
    await refused_soon(gateway, second)
    assert await me_status(gateway, first) == 401
    # Logging in again starts a new session.
    status, again = await login(gateway, "demo", person["email"], person["password"])
    assert status == 200 and await me_status(gateway, again) == 200


async def test_refresh_refuses_what_is_not_a_refresh_token(gateway):
    status, body = await refresh(gateway, "not-a-refresh-token-at-all")
    assert status == 401 and body["error"]["code"] == "refresh_token_invalid"
    async with gateway.post("/api/token/refresh", json={"token": "x"}) as r:
        assert r.status == 422 and "refresh_token" in (await r.json())["error"]["details"]["fields"]


async def test_logout_ends_the_session_at_once(gateway, smtp):
    person = await sign_up_and_log_in(gateway, smtp)
    tokens = person["tokens"]
    async with gateway.post("/api/logout", headers=bearer(tokens)) as r:
        assert r.status == 200, await r.text()
    assert await me_status(gateway, tokens) == 401
    status, _ = await refresh(gateway, tokens["refresh_token"])
    assert status == 401
    async with gateway.post("/api/logout") as r:
        assert r.status == 401


async def test_a_changed_password_kills_the_other_sessions(gateway, smtp, auth_events):
    person = await sign_up_and_log_in(gateway, smtp)
    here = person["tokens"]
    status, elsewhere = await login(gateway, "demo", person["email"], person["password"])
    assert status == 200 and await me_status(gateway, elsewhere) == 200
    new_password = "a brand new passphrase " + here["refresh_token"][:6]
    async with gateway.put("/api/account/password", headers=bearer(here),
                           json={"current_password": person["password"], "new_password": new_password}) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["other_sessions_revoked"] == 1
    await refused_soon(gateway, elsewhere)
    assert (await refresh(gateway, elsewhere["refresh_token"]))[0] == 401
    # This session goes on.
    assert await me_status(gateway, here) == 200
    assert (await refresh(gateway, here["refresh_token"]))[0] == 200
    assert (await login(gateway, "demo", person["email"], person["password"]))[0] == 401
    assert (await login(gateway, "demo", person["email"], new_password))[0] == 200
    event = await auth_events.wait_for("auth.password.changed", contact_id=person["contact_id"])
    assert event["email"] == person["email"] and event["site_name"] == "Demo Academy"
    assert new_password not in str(auth_events.received)


async def test_a_password_change_needs_the_current_password_and_a_good_new_one(gateway, smtp):
    person = await sign_up_and_log_in(gateway, smtp)
    cases = [
        ({"current_password": "not it at all", "new_password": "a fine new passphrase"}, 403, "current_password_incorrect"),
        ({"current_password": person["password"], "new_password": "Password1"}, 422, "password_rejected"),
        ({"current_password": person["password"], "new_password": "short"}, 422, "password_rejected"),
        ({"current_password": person["password"], "new_password": person["email"]}, 422, "password_rejected"),
        ({"current_password": person["password"]}, 422, "validation_failed"),
    ]
    for body, status, code in cases:
        async with gateway.put("/api/account/password", headers=person["auth"], json=body) as r:
            assert r.status == status, (body, await r.text())
            assert (await r.json())["error"]["code"] == code
    async with gateway.put("/api/account/password", json=cases[0][0]) as r:
        assert r.status == 401
    assert (await login(gateway, "demo", person["email"], person["password"]))[0] == 200


async def test_a_rotated_key_signs_new_tokens_while_tokens_of_the_old_one_still_work(gateway, smtp, database_url):
    person = await sign_up_and_log_in(gateway, smtp)
    old_kid = jwt.get_unverified_header(person["tokens"]["access_token"])["kid"]
    env = {**os.environ, "CC_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "services.auth", "rotate-key"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    new_kid = done.stdout.split("new signing key: ")[1].split()[0]
    async with gateway.get("/.well-known/jwks.json") as r:
        assert {old_kid, new_kid} <= {k["kid"] for k in (await r.json())["keys"]}

    async def signed_with_the_new_key():
        status, tokens = await login(gateway, "demo", person["email"], person["password"])
        return tokens if status == 200 and jwt.get_unverified_header(tokens["access_token"])["kid"] == new_kid else None

    fresh = await eventually(signed_with_the_new_key, timeout=15, interval=1.0, message="a token of the new key")

    async def accepted():
        return await me_status(gateway, fresh) == 200

    await eventually(accepted, timeout=10, interval=0.5, message="the gateway learning the new key")
    assert await me_status(gateway, person["tokens"]) == 200
    # The old key can now be retired (out of the JWKS); the key signing now cannot.
    refused = subprocess.run([sys.executable, "-m", "services.auth", "retire-key", new_kid], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1
    retired = subprocess.run([sys.executable, "-m", "services.auth", "retire-key", old_kid], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert retired.returncode == 0, retired.stderr
    async with gateway.get("/.well-known/jwks.json") as r:
        kids = {k["kid"] for k in (await r.json())["keys"]}
    assert new_kid in kids and old_kid not in kids
