"""Errors are part of the interface: a clear code, message and status for every bad input."""

import signal

import pytest

from tests.factories import registration, unique_email


async def error_of(response):
    body = await response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


async def test_an_invalid_registration_names_each_bad_field(gateway):
    async with gateway.post("/api/register", json={"site": "demo", "email": "nope", "first_name": " ", "admin": True}) as r:
        assert r.status == 422
        error = await error_of(r)
    assert error["code"] == "validation_failed"
    assert set(error["details"]["fields"]) == {"email", "first_name", "last_name", "admin"}


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b""])
async def test_a_body_that_is_not_a_json_object_is_refused(gateway, raw):
    async with gateway.post("/api/register", data=raw, headers={"Content-Type": "application/json"}) as r:
        assert r.status == 422
        assert (await error_of(r))["code"] == "validation_failed"


async def test_an_unknown_site_is_404(gateway):
    async with gateway.post("/api/register", json=registration(site="no-such-site")) as r:
        assert r.status == 404
        assert (await error_of(r))["code"] == "site_not_found"


async def test_registering_the_same_email_twice_is_a_conflict(gateway):
    address = unique_email("dup")
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201
    async with gateway.post("/api/register", json=registration(address.upper())) as r:
        assert r.status == 409
        assert (await error_of(r))["code"] == "email_taken"


async def test_login_with_an_unknown_user_and_a_wrong_password_answer_the_same(gateway):
    address = unique_email("known")
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201
    answers = []
    for username in (address, unique_email("unknown")):
        async with gateway.post("/api/login", json={"site": "demo", "username": username, "password": "wrong password"}) as r:
            assert r.status == 401
            answers.append(await r.read())
    assert answers[0] == answers[1]
    assert b"invalid_credentials" in answers[0]


async def test_a_spent_or_unknown_link_is_refused(gateway):
    async with gateway.post("/api/password/set", json={"token": "x" * 43, "new_password": "long enough"}) as r:
        assert r.status == 400
        assert (await error_of(r))["code"] == "token_invalid"


async def test_a_short_password_is_refused_before_the_token_is_spent(gateway):
    async with gateway.post("/api/password/set", json={"token": "x" * 43, "new_password": "short"}) as r:
        assert r.status == 422
        assert (await error_of(r))["code"] == "password_rejected"


async def test_unknown_api_paths_answer_json_404(gateway):
    async with gateway.get("/api/nothing-here") as r:
        assert r.status == 404
        assert (await error_of(r))["code"] == "not_found"


async def test_a_service_that_is_down_gives_a_503_naming_it_and_no_stack_trace(system, gateway):
    system.stop("membership", signal.SIGKILL)
    try:
        async with gateway.post("/api/register", json=registration()) as r:
            assert r.status == 503
            error = await error_of(r)
        assert error["code"] == "service_unavailable" and error["details"] == {"service": "membership"}
        assert "Traceback" not in error["message"]
        async with gateway.get("/readyz") as r:
            assert r.status == 503
            assert (await r.json())["checks"]["membership"] is False
    finally:
        system.start("membership")
        system.wait_ready(["membership"])
    async with gateway.get("/readyz") as r:
        assert r.status == 200


async def test_health_and_security_headers(gateway):
    async with gateway.get("/healthz") as r:
        assert r.status == 200
    async with gateway.get("/password/set?token=abc") as r:
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Content-Type-Options"] == "nosniff"
