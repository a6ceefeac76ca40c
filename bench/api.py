"""Customer Center API: GET /api/me, /api/orders, /api/invoices and the page check /api/can-open for
random logged-in contacts, through the gateway, with a closed-loop aiohttp load generator on loopback.
Baseline: a bare aiohttp JSON handler in one process, under the same load."""

import asyncio
import os
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp

from bench.harness import BenchSystem, cpu_per_request, free_port, load, logged_in_contacts, profile
from services.membership.seed import DEMO_SITE_ID, demo_id
from services.system import ROOT

SERVICES = ("auth", "membership", "billing", "notify", "sandbox", "gateway")
ENDPOINTS = ("/api/me", "/api/orders", "/api/invoices", "/api/can-open")
# The page check asks about one of the demo site's pages each time: one its contacts' Free level opens,
# one only Gold opens, and one that is not protected.
PAGES = ("/welcome", "/gold/lessons", "/about")
SERVICE_OF = {"/api/me": "membership", "/api/orders": "billing", "/api/invoices": "billing", "/api/can-open": "membership"}
CONCURRENCY = 32


def uvloop_on() -> bool:
    return os.environ.get("CC_UVLOOP", "true").lower() not in ("0", "false", "no", "off")


async def give_orders(bs: BenchSystem, contacts: list[dict], per_contact: int = 3) -> None:
    """Each contact gets subscriptions with a paid invoice each, written by SQL once billing knows them."""
    ids = [uuid.UUID(c["contact_id"]) for c in contacts]
    deadline = time.monotonic() + 30
    while await bs.pool.fetchval("SELECT count(*) FROM billing.contacts WHERE id = ANY($1::uuid[])", ids) < len(ids):
        if time.monotonic() > deadline:
            raise TimeoutError("billing never learnt the contacts")
        await asyncio.sleep(0.1)
    start = datetime.now(timezone.utc) - timedelta(days=10)
    orders, invoices = [], []
    for contact in ids:
        for _ in range(per_contact):
            order = uuid.uuid4()
            orders.append((order, DEMO_SITE_ID, contact, demo_id("product:monthly"), "Gold monthly", "subscription",
                           1900, "USD", "month", 1, "active", None, start, 0, 1, start + timedelta(days=30), start))
            invoices.append((uuid.uuid4(), order, DEMO_SITE_ID, contact, 1, 1, start, start + timedelta(days=30),
                             1900, "USD", "paid", None, start, start))
    async with bs.pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "orders", schema_name="billing",
            columns=["id", "site_id", "contact_id", "product_id", "product_name", "kind", "amount", "currency",
                     "interval", "interval_count", "status", "card_id", "anchor_at", "anchor_index",
                     "periods_billed", "next_billing_at", "created_at"],
            records=orders,
        )
        await conn.copy_records_to_table(
            "invoices", schema_name="billing",
            columns=["id", "order_id", "site_id", "contact_id", "sequence", "covers", "period_start", "period_end",
                     "amount", "currency", "status", "next_attempt_at", "created_at", "paid_at"],
            records=invoices,
        )


async def bare_baseline(seconds: float) -> dict:
    port = free_port()
    args = [sys.executable, "-m", "bench.bare_http", str(port)] + (["uvloop"] if uvloop_on() else [])
    proc = subprocess.Popen(args, cwd=ROOT)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/x", timeout=1)
                break
            except OSError:
                await asyncio.sleep(0.1)
        result, cpu = await cpu_per_request(
            {"bare": proc.pid}, lambda: load(lambda: f"http://127.0.0.1:{port}/api/orders", lambda: None, seconds, CONCURRENCY)
        )
        return {**result, "cpu_ms_per_request": cpu}
    finally:
        proc.terminate()
        proc.wait()


def url_of(gateway: str, path: str):
    if path == "/api/can-open":
        return lambda: f"{gateway}{path}?page={random.choice(PAGES)}"
    return lambda: gateway + path


async def run(quick: bool, full: bool) -> dict:
    seconds = 3.0 if quick else 15.0
    result: dict = {"concurrency": CONCURRENCY, "seconds_each": seconds}
    async with BenchSystem("api", SERVICES) as bs:
        async with aiohttp.ClientSession(base_url=bs.url("gateway")) as session:
            contacts = await logged_in_contacts(bs, session, 10 if quick else 50)
        await give_orders(bs, contacts)
        gateway = bs.url("gateway")
        for path in ENDPOINTS:
            spies = profile(bs, ("gateway", "billing", "membership"), seconds, path.strip("/").replace("/", "-"))
            pids = {"gateway": bs.pid("gateway"), SERVICE_OF[path]: bs.pid(SERVICE_OF[path])}
            result[path], cpu = await cpu_per_request(
                pids, lambda: load(url_of(gateway, path), lambda: random.choice(contacts)["auth"], seconds, CONCURRENCY)
            )
            result[path]["cpu_ms_per_request"] = cpu
            for spy in spies:
                spy.wait()
    result["baseline"] = await bare_baseline(seconds)
    return result
