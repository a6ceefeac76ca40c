"""Logging in: one answer for every kind of failure, and throttling per account and per address.

Each test is a `visitor` from a loopback address of its own, so its failures do not count against
the address the rest of the suite logs in from."""

import uuid

from tests.e2e.auth.conftest import login
from tests.e2e.helpers import sign_up_and_log_in
from tests.factories import registration, unique_email


async def test_wrong_password_unknown_username_and_no_password_yet_give_byte_identical_bodies(visitor, smtp):
    person = await sign_up_and_log_in(visitor, smtp)
    unset = registration()
    async with visitor.post("/api/register", json=unset) as r:
        assert r.status == 201
    await smtp.wait_for(unset["email"])  # the login exists, without a password
    answers = []
    for username, password in (
        (person["email"], person["password"] + "x"),
        (unique_email("nobody"), person["password"]),
        (unset["email"], person["password"]),
    ):
        async with visitor.post("/api/login", json={"site": "demo", "username": username, "password": password}) as r:
            answers.append((r.status, r.headers["Content-Type"], await r.read()))
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2], answers
    assert b"invalid_credentials" in answers[0][2]


async def test_the_eleventh_rapid_failure_for_an_account_is_refused_with_429_and_retry_after(visitor, smtp, auth_direct, demo_site_id):
    person = await sign_up_and_log_in(visitor, smtp)
    for attempt in range(1, 11):
        status, body = await login(visitor, "demo", person["email"], f"wrong password {attempt}")
        assert status == 401, (attempt, body)
    async with visitor.post("/api/login", json={"site": "demo", "username": person["email"], "password": "wrong again"}) as r:
        assert r.status == 429
        retry_after = int(r.headers["Retry-After"])
        error = (await r.json())["error"]
    assert 60 <= retry_after <= 901 and error["code"] == "too_many_attempts"
    # Locked means locked: the right password is refused too, and any case of the username.
    status, body = await login(visitor, "demo", person["email"].upper(), person["password"])
    assert status == 429 and body["error"]["code"] == "too_many_attempts"
    # The lock is per account: another account logs in from the same address.
    other = await sign_up_and_log_in(visitor, smtp)
    assert other["tokens"]["access_token"]
    # Membership's access diagnostics can see the lock.
    async with auth_direct.get(f"/internal/sites/{demo_site_id}/contacts/{person['contact_id']}/login") as r:
        state = await r.json()
    assert state["has_login"] and state["password_set"] and state["username"] == person["email"]
    assert state["locked_until"] is not None


async def test_an_unknown_username_is_locked_like_a_real_account(visitor):
    name = unique_email("ghost")
    statuses = [(await login(visitor, "demo", name, f"guess {n}"))[0] for n in range(11)]
    assert statuses == [401] * 10 + [429]


async def test_failures_over_many_accounts_from_one_address_lock_that_address(visitor, smtp, auth_direct):
    """The visitor passes the client's address in X-Forwarded-For; auth counts failures per address too."""
    person = await sign_up_and_log_in(visitor, smtp)
    attacker = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 250 + 1}"}
    for n in range(100):  # CC_AUTH address_max_failures defaults to 100; each name fails once
        body = {"site": "demo", "username": unique_email(f"spray{n}"), "password": "Winter2024!"}
        async with auth_direct.post("/api/login", json=body, headers=attacker) as r:
            assert r.status == 401, n
    right = {"site": "demo", "username": person["email"], "password": person["password"]}
    async with auth_direct.post("/api/login", json=right, headers=attacker) as r:
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    async with auth_direct.post("/api/login", json=right, headers={"X-Forwarded-For": "198.51.100.9"}) as r:
        assert r.status == 200


async def test_a_contact_without_a_password_shows_a_login_that_is_not_set(visitor, smtp, auth_direct, demo_site_id):
    body = registration()
    async with visitor.post("/api/register", json=body) as r:
        contact_id = (await r.json())["contact_id"]
    await smtp.wait_for(body["email"])
    site_id = demo_site_id
    async with auth_direct.get(f"/internal/sites/{site_id}/contacts/{contact_id}/login") as r:
        assert await r.json() == {"has_login": True, "password_set": False, "username": body["email"], "locked_until": None}
    async with auth_direct.get(f"/internal/sites/{site_id}/contacts/{uuid.uuid4()}/login") as r:
        assert (await r.json())["has_login"] is False


async def test_a_burst_of_parallel_guesses_gets_no_more_than_ten_tries(visitor, smtp):
    import asyncio

    person = await sign_up_and_log_in(visitor, smtp)
    results = await asyncio.gather(*(login(visitor, "demo", person["email"], f"parallel guess {n}") for n in range(25)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [401] * 10 + [429] * 15, statuses


async def test_an_unknown_username_costs_as_much_time_as_a_wrong_password(visitor, smtp):
    """Both pay one argon2id verification; without the dummy hash an unknown name would answer ~10x faster."""
    import time

    person = await sign_up_and_log_in(visitor, smtp)

    async def duration(username: str) -> float:
        started = time.perf_counter()
        status, _ = await login(visitor, "demo", username, "a wrong password")
        assert status == 401
        return time.perf_counter() - started

    # Three of each stay under the failures that are held back; the fastest of each is the least noisy.
    wrong = min([await duration(person["email"]) for _ in range(3)])
    unknown = min([await duration(unique_email("nobody")) for _ in range(3)])
    assert wrong / 3 < unknown < wrong * 3, (wrong, unknown)
