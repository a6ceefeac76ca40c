"""Attacks on login (issue 10): guessing one account's password, and telling known usernames from
unknown ones by the answer or its time."""

import asyncio
import statistics
import time
import uuid

import aiohttp

from tests.e2e.helpers import sign_up_and_log_in
from tests.factories import unique_email

GUESSES = 2000


def _client(system, host: str) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(local_addr=(host, 0), limit=20)
    return aiohttp.ClientSession(base_url=system.processes["gateway"].url, connector=connector)


def _address() -> str:
    octets = uuid.uuid4().bytes[:3]
    return "127." + ".".join(str(1 + b % 254) for b in octets)


async def _login(session, username: str, password: str) -> tuple[int, bytes]:
    async with session.post("/api/login", json={"site": "demo", "username": username, "password": password}) as r:
        return r.status, await r.read()


async def test_2000_guesses_at_one_account_get_at_most_100_evaluated_and_the_owner_still_logs_in(system, visitor, smtp):
    person = await sign_up_and_log_in(visitor, smtp)
    async with _client(system, _address()) as attacker:
        queue = iter(range(GUESSES))
        statuses: list[int] = []

        async def guess():
            for n in queue:
                statuses.append((await _login(attacker, person["email"], f"guess number {n}"))[0])

        await asyncio.gather(*(guess() for _ in range(20)))
    evaluated = statuses.count(401)  # a 401 is a password checked; a 429 was refused before checking
    assert len(statuses) == GUESSES and set(statuses) <= {401, 429}
    print(f"{GUESSES} guesses, {evaluated} evaluated")
    assert evaluated <= 100, evaluated
    # The owner, from their own address, still gets in while the attacker's address stays locked out.
    async with _client(system, _address()) as owner:
        status, _ = await _login(owner, person["email"], person["password"])
        assert status == 200


async def test_known_and_unknown_usernames_answer_the_same_body_in_the_same_time(system, visitor, smtp):
    """Interleaved, from one address; the known account's right password every third try keeps its
    count under the failures that are held back (the hold-back would be a difference of its own)."""
    person = await sign_up_and_log_in(visitor, smtp)
    rounds = 40
    known, unknown, bodies = [], [], set()
    for n in range(rounds):
        pair = [(person["email"], known), (unique_email("nobody"), unknown)]
        for username, times in pair if n % 2 else pair[::-1]:  # neither always goes first
            started = time.perf_counter()
            status, body = await _login(visitor, username, f"a wrong password {n}")
            times.append(time.perf_counter() - started)
            assert status == 401, body
            bodies.add(body)
        if n % 2 == 1:
            assert (await _login(visitor, person["email"], person["password"]))[0] == 200
    assert len(bodies) == 1, bodies
    difference = abs(statistics.median(known) - statistics.median(unknown))
    print(f"median known {statistics.median(known) * 1000:.1f} ms, unknown {statistics.median(unknown) * 1000:.1f} ms")
    # The leak this guards against (an unknown name skipping the argon2 verification) is ~100 ms here.
    # The bar is 5 ms over 500 each: on this shared 2-core machine, 40 each measured 1-13 ms
    # either way round (noise, not a side), so the suite's bound is 25 ms (docs/reliability.md).
    assert difference < 0.025, (difference, statistics.median(known), statistics.median(unknown))
