"""Billing run: due subscriptions billed per second by two ``billing-run --direct`` processes at once
(claim, invoice, sandbox charge over HTTP, payment, outbox event), then checked exactly once.
Baseline: asyncpg transactions by two workers doing the same row writes, with no logic."""

import asyncio
import json
import os
import resource
import shutil
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg

from bench.harness import (
    AMQP_URL, BenchSystem, DatabaseCpu, MachineCpu, broker_cpu_seconds, cpu_seconds, machine_busy_seconds, profile,
)
from services.billing.seed import seed_due_subscriptions
from services.membership.seed import DEMO_SITE_ID, demo_id
from services.system import ROOT

MONTHLY = demo_id("product:monthly")
BATCH = 100

BASELINE_SCHEMA = """
DROP SCHEMA IF EXISTS bench_baseline CASCADE;
CREATE SCHEMA bench_baseline;
SET search_path TO bench_baseline;
CREATE TABLE orders (id uuid PRIMARY KEY, site_id uuid NOT NULL, contact_id uuid NOT NULL, amount bigint NOT NULL,
  currency char(3) NOT NULL, periods_billed int NOT NULL, next_billing_at timestamptz);
CREATE INDEX ON orders (next_billing_at);
CREATE TABLE invoices (id uuid PRIMARY KEY, order_id uuid NOT NULL, sequence int NOT NULL, amount bigint NOT NULL,
  currency char(3) NOT NULL, status text NOT NULL, paid_at timestamptz, UNIQUE (order_id, sequence));
CREATE INDEX ON invoices (status);
CREATE TABLE charges (id uuid PRIMARY KEY, idempotency_key text UNIQUE NOT NULL, amount bigint NOT NULL, status text NOT NULL);
CREATE TABLE payments (id uuid PRIMARY KEY, invoice_id uuid NOT NULL, amount bigint NOT NULL, status text NOT NULL,
  idempotency_key text UNIQUE NOT NULL);
CREATE TABLE outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL, routing_key text NOT NULL, envelope jsonb NOT NULL);
"""


async def seed_baseline(pool: asyncpg.Pool, n: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(BASELINE_SCHEMA)
        due = datetime.now(timezone.utc) - timedelta(hours=1)
        await conn.copy_records_to_table(
            "orders", schema_name="bench_baseline",
            columns=["id", "site_id", "contact_id", "amount", "currency", "periods_billed", "next_billing_at"],
            records=[(uuid.uuid4(), DEMO_SITE_ID, uuid.uuid4(), 1900, "USD", 1, due) for _ in range(n)],
        )
        await conn.execute("ANALYZE bench_baseline.orders")


async def baseline_worker(pool: asyncpg.Pool) -> None:
    """Open periods then charge, in batches, as the run does, with executemany and no logic."""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            orders = await conn.fetch(
                "SELECT id, amount, currency, periods_billed FROM bench_baseline.orders WHERE next_billing_at <= now()"
                " ORDER BY next_billing_at LIMIT $1 FOR UPDATE SKIP LOCKED", BATCH * 5,
            )
            if not orders:
                break
            await conn.executemany(
                "INSERT INTO bench_baseline.invoices (id, order_id, sequence, amount, currency, status) VALUES ($1, $2, $3, $4, $5, 'unpaid')",
                [(uuid.uuid4(), o["id"], o["periods_billed"] + 1, o["amount"], o["currency"]) for o in orders],
            )
            await conn.execute(
                "UPDATE bench_baseline.orders SET periods_billed = periods_billed + 1, next_billing_at = next_billing_at + interval '1 month'"
                " WHERE id = ANY($1::uuid[])", [o["id"] for o in orders],
            )
    while True:
        async with pool.acquire() as conn, conn.transaction():
            invoices = await conn.fetch(
                "SELECT id, order_id, sequence, amount FROM bench_baseline.invoices WHERE status = 'unpaid'"
                " LIMIT $1 FOR UPDATE SKIP LOCKED", BATCH,
            )
            if not invoices:
                return
            keys = [f"inv:{i['order_id']}:{i['sequence']}:1" for i in invoices]
            await conn.executemany(
                "INSERT INTO bench_baseline.charges (id, idempotency_key, amount, status) VALUES ($1, $2, $3, 'succeeded')",
                [(uuid.uuid4(), k, i["amount"]) for k, i in zip(keys, invoices)],
            )
            await conn.executemany(
                "INSERT INTO bench_baseline.payments (id, invoice_id, amount, status, idempotency_key) VALUES ($1, $2, $3, 'succeeded', $4)",
                [(uuid.uuid4(), i["id"], i["amount"], k) for k, i in zip(keys, invoices)],
            )
            await conn.execute(
                "UPDATE bench_baseline.invoices SET status = 'paid', paid_at = now() WHERE id = ANY($1::uuid[])",
                [i["id"] for i in invoices],
            )
            await conn.executemany(
                "INSERT INTO bench_baseline.outbox (event_id, routing_key, envelope) VALUES ($1, 'billing.payment.succeeded', $2::jsonb)",
                [(uuid.uuid4(), json.dumps({"invoice_id": str(i["id"]), "amount": i["amount"]})) for i in invoices],
            )


async def baseline(pool_url: str, n: int) -> tuple[float, dict]:
    """Subscriptions per second, and the CPU microseconds per subscription of the workers (this
    process) and of their two PostgreSQL backends."""
    pool = await asyncpg.create_pool(pool_url, min_size=2, max_size=2)
    try:
        await seed_baseline(pool, n)
        async with pool.acquire() as a, pool.acquire() as b:
            backends = [await a.fetchval("SELECT pg_backend_pid()"), await b.fetchval("SELECT pg_backend_pid()")]
        before = [cpu_seconds(pid) or 0.0 for pid in backends]
        cpu, machine = time.process_time(), machine_busy_seconds()
        started = time.monotonic()
        await asyncio.gather(baseline_worker(pool), baseline_worker(pool))
        elapsed = time.monotonic() - started
        cpu, machine = time.process_time() - cpu, machine_busy_seconds() - machine
        database = sum((cpu_seconds(pid) or 0.0) - b for pid, b in zip(backends, before))
        paid = await pool.fetchval("SELECT count(*) FROM bench_baseline.payments")
        assert paid == n, (paid, n)
        await pool.execute("DROP SCHEMA bench_baseline CASCADE")
        us = lambda seconds: round(seconds * 1e6 / n, 1)  # noqa: E731
        return n / elapsed, {"workers": us(cpu), "postgres": us(database), "machine": us(machine)}
    finally:
        await pool.close()


async def seed_due_orders(pool: asyncpg.Pool, token: str, n: int, due_at: datetime) -> None:
    """n contacts, each with a card and a due monthly subscription, then fresh planner statistics."""
    await seed_due_subscriptions(pool, token=token, count=n, due_at=due_at)
    async with pool.acquire() as conn:
        for table in ("billing.contacts", "billing.cards", "billing.orders"):
            await conn.execute(f"ANALYZE {table}")


async def run(quick: bool, full: bool, size: int | None = None) -> dict:
    n = size or (2000 if quick else 1_000_000 if full else 20_000)
    result: dict = {"subscriptions": n}
    async with BenchSystem("billing", ("sandbox", "billing")) as bs:
        # The run's events must be routable: a queue of the benchmark's own takes them (and drops them).
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{bs.prefix}cc.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(
            f"{bs.prefix}bench.events", durable=True, arguments={"x-max-length": 1000, "x-overflow": "drop-head"}
        )
        await queue.bind(exchange, routing_key="#")
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{bs.url('sandbox')}/sandbox/v1/tokens",
                json={"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"},
            ) as r:
                token = (await r.json())["token"]
        now = datetime.now(timezone.utc)
        seeded = time.monotonic()
        await seed_due_orders(bs.pool, token, n, now - timedelta(hours=1))
        result["seed_seconds"] = time.monotonic() - seeded
        env = bs.system.service_env()
        args = [sys.executable, "-m", "services.cli", "billing-run", "--direct", "--as-of", now.isoformat(),
                "--site-id", str(DEMO_SITE_ID)]
        commands = [args, args]
        spies = []
        if os.environ.get("CC_BENCH_PROFILE") == "1":  # py-spy runs each CLI and samples it, and the services
            out = Path(__file__).parent / "results"
            py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
            commands = [[py_spy, "record", "--format", "raw", "-r", "200", "-o", str(out / f"profile-billing-run-{i}.txt"),
                         "--", *args] for i in (1, 2)]
            spies = profile(bs, ("sandbox", "billing"), 3 + n / 1000, "billing")
        services_cpu = {name: cpu_seconds(bs.pid(name)) or 0.0 for name in ("sandbox", "billing")}
        children_cpu = _children_cpu()
        database_cpu = DatabaseCpu(bs.database_url.rsplit("/", 1)[1], interval=0.1)
        await database_cpu.__aenter__()
        broker_cpu, machine_cpu = broker_cpu_seconds(), await MachineCpu().__aenter__()
        started = time.monotonic()
        runs = [
            await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.DEVNULL)
            for command in commands
        ]
        outputs = await asyncio.gather(*(r.communicate() for r in runs))
        elapsed = time.monotonic() - started
        children_cpu = _children_cpu() - children_cpu
        sandbox_cpu = (cpu_seconds(bs.pid("sandbox")) or 0.0) - services_cpu["sandbox"]
        summaries = [json.loads(out[out.index(b"{"):out.rindex(b"}") + 1]) for out, _ in outputs]
        # End to end: until billing's relay has published every event of the run (asked cheaply:
        # counting a million-row outbox ten times a second took CPU from the relay it waits for).
        while await bs.pool.fetchval("SELECT EXISTS (SELECT 1 FROM billing.outbox)"):
            await asyncio.sleep(0.2)
        e2e = time.monotonic() - started
        await machine_cpu.__aexit__(None, None, None)
        broker_cpu = None if broker_cpu is None else (broker_cpu_seconds() or 0.0) - broker_cpu
        await database_cpu.__aexit__(None, None, None)
        relay_cpu = (cpu_seconds(bs.pid("billing")) or 0.0) - services_cpu["billing"]
        for spy in spies:
            await asyncio.to_thread(spy.wait)
        await connection.close()
        counts = await bs.pool.fetchrow(
            "SELECT (SELECT count(*) FROM billing.invoices) AS invoices,"
            " (SELECT count(*) FROM billing.payments WHERE status = 'succeeded') AS payments,"
            " (SELECT count(DISTINCT invoice_id) FROM billing.payments) AS paid_invoices,"
            " (SELECT count(*) FROM sandbox.charges WHERE token = $1) AS charges,"
            " (SELECT count(DISTINCT idempotency_key) FROM sandbox.charges WHERE token = $1) AS distinct_charges",
            token,
        )
        exactly_once = (
            counts["invoices"] == counts["payments"] == counts["paid_invoices"] == counts["charges"]
            == counts["distinct_charges"] == n
        )
        # The runs' own time, from the first one's start of work to the last one's end: what the
        # baseline's time is too (its workers and pool exist before its clock starts). ``seconds``
        # adds the two processes' start-up (the interpreter, imports, pools): about 1 s of CPU each.
        working = max(s["finished_at"] for s in summaries) - min(s["started_at"] for s in summaries)
        result.update(
            seconds=elapsed, per_second=n / working, working_seconds=working,
            per_second_with_startup=n / elapsed, end_to_end_seconds=e2e,
            runs=summaries, split=[s["succeeded"] for s in summaries], exactly_once=exactly_once, counts=dict(counts),
        )
        # CPU microseconds per subscription, by process (load-independent, unlike the rates): the two
        # runs' own working time ("runs"; "runs_with_startup" adds their interpreters and imports),
        # their PostgreSQL backends, the sandbox processor (until the runs end), billing's service
        # (its outbox relay, until every event is published) and the backends of the services and
        # of this harness (the relay's deletes, the sandbox's charges).
        spent = database_cpu.spent()
        us = lambda seconds: round(seconds * 1e6 / n, 1)  # noqa: E731
        result["cpu_us_per_subscription"] = {
            "runs": us(sum(s.get("cpu_seconds", 0.0) for s in summaries)), "runs_with_startup": us(children_cpu),
            "postgres_runs": us(spent["gone"]), "sandbox": us(sandbox_cpu), "relay": us(relay_cpu),
            "postgres_services": us(spent["alive"]),
            # until the relay is done, as the two above: RabbitMQ taking the relay's messages
            **({} if broker_cpu is None else {"rabbitmq": us(broker_cpu)}),
            # every process of the machine (the kernel's work and the harness's polling included)
            # while the runs work, the window of ``per_second``
            "machine": us(machine_cpu.between(min(s["started_at"] for s in summaries),
                                              max(s["finished_at"] for s in summaries))),
        }
        baseline_n = min(n, 20_000)
        result["baseline_subscriptions"] = baseline_n
        result["baseline_per_second"], result["baseline_cpu_us_per_subscription"] = await baseline(
            bs.database_url, baseline_n
        )
    return result


def _children_cpu() -> float:
    """User + system CPU of this process's finished children (the billing-run processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
