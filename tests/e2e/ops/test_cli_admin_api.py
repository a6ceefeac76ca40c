"""CLI commands that call the admin API through the gateway: run billing now, resend credentials,
show a contact's access. The endpoints are built with the billing, auth and membership issues;
these tests hold the CLI to the contract in API.md and to the real gateway as it is."""

import json
import socket

import pytest
from aiohttp import web

from tests.conftest import ADMIN_KEY
from tests.factories import registration


@pytest.fixture
async def admin_api_recorder():
    """A stand-in gateway that records what the CLI sends and answers as API.md says."""
    seen = []

    async def record(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append((request.method, request.path, dict(request.query), request.headers.get("X-Api-Key"), body))
        if request.path.endswith("/access"):
            return web.json_response({"allowed": False, "reasons": [{"code": "no_level", "message": "No level opens this page."}]})
        if "00000000-0000-4000-8000-000000000404" in request.path:
            return web.json_response({"error": {"code": "contact_not_found", "message": "No such contact.", "details": {}}}, status=404)
        return web.json_response({"status": "done"}, status=202 if "billing" in request.path else 200)

    app = web.Application()
    app.router.add_post("/admin/api/billing/run", record)
    app.router.add_post("/admin/api/contacts/{id}/resend-credentials", record)
    app.router.add_get("/admin/api/contacts/{id}/access", record)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


async def test_admin_api_commands_send_what_the_contract_says(cli, admin_api_recorder):
    url, seen = admin_api_recorder
    contact = "6d1c3c8e-0000-4000-8000-000000000001"
    env = {"CC_GATEWAY_URL": url, "CC_ADMIN_KEY": "cc_admin_test"}

    run = await cli.run_async("billing-run", "--as-of", "2026-01-31T00:00:00Z", **env)
    assert run.returncode == 0 and json.loads(run.stdout) == {"status": "done"}
    resend = await cli.run_async("resend-credentials", contact, **env)
    assert resend.returncode == 0
    access = await cli.run_async("access", contact, "--page", "/gold/lessons", **env)
    assert access.returncode == 0 and json.loads(access.stdout)["allowed"] is False

    assert [(m, p, q, k) for m, p, q, k, _ in seen] == [
        ("POST", "/admin/api/billing/run", {}, "cc_admin_test"),
        ("POST", f"/admin/api/contacts/{contact}/resend-credentials", {}, "cc_admin_test"),
        ("GET", f"/admin/api/contacts/{contact}/access", {"page": "/gold/lessons"}, "cc_admin_test"),
    ]
    assert json.loads(seen[0][4]) == {"as_of": "2026-01-31T00:00:00Z"}

    # A service's 404 (no such contact) is told apart from a gateway without the endpoint.
    gone = await cli.run_async("resend-credentials", "00000000-0000-4000-8000-000000000404", **env)
    assert gone.returncode == 1 and "contact_not_found: No such contact." in gone.stderr
    missing = await cli.run_async("access", contact, "--page", "/x", **{**env, "CC_GATEWAY_URL": url + "/nothing-here"})
    assert missing.returncode == 1 and "does not offer GET" in missing.stderr
    no_key = await cli.run_async("billing-run", CC_GATEWAY_URL=url, CC_ADMIN_KEY="")
    assert no_key.returncode == 1 and "CC_ADMIN_KEY" in no_key.stderr


async def test_access_command_against_the_real_gateway(cli, system, gateway):
    async with gateway.post("/api/register", json=registration()) as r:
        contact_id = (await r.json())["contact_id"]
    result = await cli.run_async(
        "access", contact_id, "--page", "/welcome", CC_GATEWAY_URL=system.processes["gateway"].url, CC_ADMIN_KEY=ADMIN_KEY
    )
    if "does not offer" in result.stderr:
        # This build's gateway has no access endpoint yet (membership's issue adds it): said clearly.
        assert result.returncode == 1 and "GET /admin/api/contacts/" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        answer = json.loads(result.stdout)
        codes = {reason["code"] for reason in answer["reasons"]}
        assert "no_level_for_page" not in codes, "a new registration's default level opens /welcome"
        # ...but not before the welcome email's link has set a password.
        assert answer["allowed"] is False and "password_not_set" in codes, answer
