"""GET /admin/api/contacts/{id}/access answers the article's troubleshooting recipes itself: wrong
level on the post-login page, a missing level, a locked account, an ended grant, the Customer Center
off; plus where the contact lands after login and the gateway's fast per-page check."""

import asyncio
import time
import uuid
from datetime import datetime

from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.helpers import sign_up_and_log_in
from tests.e2e.membership.conftest import set_password_from_welcome


async def academy(admin):
    program = await admin.ok("POST", "/admin/api/programs", {"name": "Academy"})
    basic = await admin.level(program["id"], "Basic")
    premium = await admin.level(program["id"], "Premium")
    await admin.ok("POST", "/admin/api/pages", {"path": "/start", "title": "Start here", "level_ids": [basic, premium]})
    await admin.ok("POST", "/admin/api/pages", {"path": "/premium", "level_ids": [premium]})
    return {"program": program["id"], "basic": basic, "premium": premium}


def codes(answer) -> set[str]:
    return {r["code"] for r in answer["reasons"]}


async def internal(system, gateway, path: str) -> tuple[int, dict]:
    async with gateway.get(system.processes["membership"].url + path) as r:
        return r.status, await r.json()


async def test_wrong_level_on_the_redirect_page_is_refused_at_save_and_explained_after(new_site, system, gateway):
    admin = await new_site()
    levels = await academy(admin)

    status, refused = await admin.call("PATCH", "/admin/api/site", {"post_login_redirect": "/premium"})
    assert status == 422
    assert refused["error"]["code"] == "redirect_page_lacks_access"
    assert [lv["level"] for lv in refused["error"]["details"]["levels_lacking_access"]] == ["Basic"]
    assert "Basic" in refused["error"]["message"]
    assert (await admin.ok("GET", "/admin/api/site"))["post_login_redirect"] == "customer_center"

    assert (await admin.ok("PATCH", "/admin/api/site", {"post_login_redirect": "/start"}))["post_login_redirect"] == "/start"
    # Narrowing the post-login page's levels is refused the same way.
    start = [p for p in (await admin.ok("GET", "/admin/api/pages"))["items"] if p["path"] == "/start"][0]
    status, refused = await admin.call("PATCH", f"/admin/api/pages/{start['id']}", {"level_ids": [levels["premium"]]})
    assert status == 422 and [lv["level"] for lv in refused["error"]["details"]["levels_lacking_access"]] == ["Basic"]
    # A level added later is not on the post-login page: its members cannot open where they land.
    trial = await admin.level(levels["program"], "Trial")
    member = await admin.contact(level_id=levels["basic"])
    tester = await admin.contact(level_id=trial)

    answer = await admin.access(tester["id"])
    assert answer["page"] == "/start" and answer["allowed"] is False
    assert {"no_level_for_page", "redirect_page_needs_level"} <= codes(answer)
    assert answer["lands_on"] == "/center" and answer["landing_reason"]["code"] == "redirect_page_needs_level"
    assert answer["page_levels"] == ["Basic", "Premium"]

    # auth's login asks where each lands.
    base = f"/internal/sites/{admin.site_id}/contacts"
    assert await internal(system, gateway, f"{base}/{tester['id']}/landing") == (
        200, {"redirect": "/center", "reason": "redirect_page_needs_level", "message": answer["landing_reason"]["message"]}
    )
    status, landing = await internal(system, gateway, f"{base}/{member['id']}/landing")
    assert (status, landing["redirect"], landing["reason"]) == (200, "/start", "post_login_page")
    assert (await admin.access(member["id"]))["lands_on"] == "/start"

    # Saving it again is now refused, naming the level that lacks access.
    status, refused = await admin.call("PATCH", "/admin/api/site", {"post_login_redirect": "/start"})
    assert status == 422 and [lv["level"] for lv in refused["error"]["details"]["levels_lacking_access"]] == ["Trial"]


async def test_missing_level_names_the_levels_that_open_the_page(new_site, gateway, smtp):
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    await set_password_from_welcome(gateway, smtp, member["email"], admin.slug)

    answer = await admin.access(member["id"], page="/premium")
    assert answer["allowed"] is False
    [reason] = [r for r in answer["reasons"] if r["code"] == "no_level_for_page"]
    assert "Premium" in reason["message"] and reason["details"]["levels_that_open_it"] == ["Premium"]
    assert "grant_ended" not in codes(answer)
    assert (await admin.access(member["id"], page="/start"))["allowed"] is True
    # A path no page protects is open.
    assert (await admin.access(member["id"], page="/about"))["allowed"] is True


async def test_an_ended_grant_says_when_and_why(new_site, gateway, smtp, events):
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    await set_password_from_welcome(gateway, smtp, member["email"], admin.slug)
    grant = await admin.ok("POST", f"/admin/api/contacts/{member['id']}/grants", {"level_id": levels["premium"]})
    assert (await admin.access(member["id"], page="/premium"))["allowed"] is True

    ended = await admin.ok("DELETE", f"/admin/api/contacts/{member['id']}/grants/{grant['id']}", {"reason": "refund requested"})
    assert ended["ends_at"] and ended["ended_reason"] == "refund requested"
    status, again = await admin.call("DELETE", f"/admin/api/contacts/{member['id']}/grants/{grant['id']}")
    assert status == 409 and again["error"]["code"] == "grant_already_ended"

    answer = await admin.access(member["id"], page="/premium")
    assert answer["allowed"] is False
    [reason] = [r for r in answer["reasons"] if r["code"] == "grant_ended"]
    assert reason["details"]["why"] == "refund requested"
    assert datetime.fromisoformat(reason["details"]["ended_at"]) == datetime.fromisoformat(ended["ends_at"])
    assert "Premium" in reason["message"] and "refund requested" in reason["message"]
    assert (await admin.access(member["id"], page="/start"))["allowed"] is True

    async def revoked():
        return events.of("membership.revoked", grant_id=grant["id"])

    [event] = await eventually(revoked, message="membership.revoked")
    assert event["payload"]["reason"] == "refund requested"


async def test_customer_center_off_is_the_reason(new_site, system, gateway, smtp):
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    await set_password_from_welcome(gateway, smtp, member["email"], admin.slug)
    assert (await admin.access(member["id"]))["allowed"] is True

    site = await admin.ok("PATCH", "/admin/api/site", {"customer_center_enabled": False})
    assert site["customer_center_enabled"] is False and site["post_login_redirect"] == "customer_center"
    answer = await admin.access(member["id"])
    assert answer["page"] == "/center" and answer["allowed"] is False
    assert "customer_center_disabled" in codes(answer)
    assert answer["landing_reason"]["code"] == "customer_center_disabled"
    status, landing = await internal(system, gateway, f"/internal/sites/{admin.site_id}/contacts/{member['id']}/landing")
    assert (status, landing["reason"]) == (200, "customer_center_disabled")
    # Other pages are still a matter of levels.
    assert (await admin.access(member["id"], page="/start"))["allowed"] is True


async def test_login_state_is_reported_unknown_when_auth_does_not_answer(new_site, system):
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    system.stop("auth")
    try:
        answer = await admin.access(member["id"], page="/start")
    finally:
        system.start("auth")
        system.wait_ready(["auth"])
    assert answer["login"] == {"state": "unknown", "has_login": None, "password_set": None, "username": None, "locked_until": None}
    assert answer["can_log_in"] is None and "login_state_unknown" in codes(answer)
    # The level still opens the page: the answer degrades, it does not fail.
    assert answer["allowed"] is True


async def test_locked_account_is_reported_from_auths_login_state(new_site, gateway, smtp):
    """Needs auth's GET /internal/sites/{site_id}/contacts/{contact_id}/login and its lockout (auth's issue)."""
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    await set_password_from_welcome(gateway, smtp, member["email"], admin.slug)
    fine = await admin.access(member["id"], page="/start")
    assert fine["login"]["state"] == "known", "auth's internal login endpoint must answer"
    assert fine["login"]["has_login"] is True and fine["login"]["password_set"] is True and fine["can_log_in"] is True

    # Wrong passwords until auth locks the account (honouring its growing delays), asking after each.
    deadline = time.monotonic() + 45
    answer = fine
    while "account_locked" not in codes(answer):
        assert time.monotonic() < deadline, f"auth never reported a lock: {answer}"
        async with gateway.post("/api/login", json={"site": admin.slug, "username": member["email"], "password": "wrong password 1"}) as r:
            wait = float(r.headers.get("Retry-After", 0) or 0) if r.status == 429 else 0.0
        answer = await admin.access(member["id"], page="/start")
        if "account_locked" not in codes(answer) and wait:
            await asyncio.sleep(min(wait, 5.0))
    assert answer["allowed"] is False and answer["can_log_in"] is False
    assert answer["login"]["locked_until"]


async def test_the_gateways_page_check_answers_from_the_levels(new_site, system, gateway):
    admin = await new_site()
    levels = await academy(admin)
    member = await admin.contact(level_id=levels["basic"])
    base = f"/internal/sites/{admin.site_id}/contacts/{member['id']}/can-open?page="
    assert (await internal(system, gateway, base + "/start"))[1] == {"page": "/start", "protected": True, "allowed": True}
    assert (await internal(system, gateway, base + "/premium"))[1] == {"page": "/premium", "protected": True, "allowed": False}
    assert (await internal(system, gateway, base + "/about"))[1] == {"page": "/about", "protected": False, "allowed": True}
    # Another site's contact id opens nothing here.
    other = await (await new_site()).contact()
    other_base = f"/internal/sites/{admin.site_id}/contacts/{other['id']}/can-open?page="
    assert (await internal(system, gateway, other_base + "/start"))[1]["allowed"] is False


async def test_a_host_site_asks_the_gateway_whether_its_member_may_open_a_page(gateway, smtp):
    """GET /api/can-open?page= with the member's own token: the page's levels against their grants now."""
    admin = {"X-Api-Key": ADMIN_KEY}
    member = await sign_up_and_log_in(gateway, smtp)
    path = f"/lessons/{uuid.uuid4().hex[:8]}"

    async def ask(page: str, headers=None) -> tuple[int, dict]:
        async with gateway.get("/api/can-open", params={"page": page}, headers=headers or member["auth"]) as r:
            return r.status, await r.json()

    async def admin_call(method: str, url: str, body=None) -> dict:
        async with gateway.request(method, url, json=body, headers=admin) as r:
            assert r.status in (200, 201), await r.text()
            return await r.json()

    assert await ask(path) == (200, {"page": path, "protected": False, "allowed": True})
    program = await admin_call("POST", "/admin/api/programs", {"name": "Lessons " + path})
    level = await admin_call("POST", "/admin/api/levels", {"program_id": program["id"], "name": "Pupil"})
    await admin_call("POST", "/admin/api/pages", {"path": path, "level_ids": [level["id"]]})
    assert await ask(path) == (200, {"page": path, "protected": True, "allowed": False})

    grant = await admin_call("POST", f"/admin/api/contacts/{member['contact_id']}/grants", {"level_id": level["id"]})
    assert await ask(path) == (200, {"page": path, "protected": True, "allowed": True})
    await admin_call("DELETE", f"/admin/api/contacts/{member['contact_id']}/grants/{grant['id']}")
    assert await ask(path) == (200, {"page": path, "protected": True, "allowed": False})

    status, refused = await ask("lessons")
    assert status == 422 and "page" in refused["error"]["details"]["fields"]
    assert (await ask(path, headers={"Authorization": "Bearer not-a-token"}))[0] == 401
