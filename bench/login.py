"""Login: logins per second with argon2id at the configured cost, 20 at once through the gateway, and
meanwhile the latency of auth's own /healthz (one request at a time), the proxy for auth's event-loop
lag: /healthz does no I/O, so the time it waits beyond its idle latency is time the loop was busy.
Baseline: argon2id hashes per second on one core (this process, one thread)."""

import asyncio
import time

import aiohttp
from argon2 import PasswordHasher, Type

from bench.harness import BenchSystem, latency_ms, logged_in_contacts
from services.auth.settings import AuthSettings

SERVICES = ("auth", "membership", "billing", "notify", "sandbox", "gateway")  # the gateway is ready when all are
CONCURRENT = 20


def hashes_per_second(seconds: float) -> float:
    s = AuthSettings()
    hasher = PasswordHasher(time_cost=s.argon2_time_cost, memory_cost=s.argon2_memory_kib,
                            parallelism=s.argon2_parallelism, type=Type.ID)
    count, started = 0, time.monotonic()
    while time.monotonic() - started < seconds:
        hasher.hash("a benchmark passphrase")
        count += 1
    return count / (time.monotonic() - started)


async def probe(session: aiohttp.ClientSession, url: str, until: float, every: float = 0.01) -> list[float]:
    latencies = []
    while time.monotonic() < until:
        started = time.monotonic()
        async with session.get(url) as r:
            await r.read()
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(every)
    return latencies


async def run(quick: bool, full: bool) -> dict:
    seconds = 4.0 if quick else 20.0
    s = AuthSettings()
    result: dict = {"argon2": {"time_cost": s.argon2_time_cost, "memory_kib": s.argon2_memory_kib,
                               "parallelism": s.argon2_parallelism}, "concurrent": CONCURRENT}
    async with BenchSystem("login", SERVICES) as bs:
        async with aiohttp.ClientSession(base_url=bs.url("gateway")) as session:
            contacts = await logged_in_contacts(bs, session, CONCURRENT)
        health = bs.url("auth") + "/healthz"
        async with aiohttp.ClientSession() as session:
            result["healthz_idle"] = latency_ms(await probe(session, health, time.monotonic() + 1.0))
            until = time.monotonic() + seconds
            logins, refused = 0, 0

            async def client(contact):
                nonlocal logins, refused
                body = {"site": "demo", "username": contact["email"], "password": contact["password"]}
                while time.monotonic() < until:
                    async with session.post(bs.url("gateway") + "/api/login", json=body) as r:
                        await r.read()
                        if r.status == 200:
                            logins += 1
                        else:
                            refused += 1

            started = time.monotonic()
            lag, *_ = await asyncio.gather(probe(session, health, until), *(client(c) for c in contacts))
            elapsed = time.monotonic() - started
        result.update(per_second=logins / elapsed, refused=refused, healthz_under_load=latency_ms(lag))
    result["baseline_per_second"] = await asyncio.to_thread(hashes_per_second, 1.0 if quick else 3.0)
    return result
