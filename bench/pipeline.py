"""Welcome pipeline: registration at the gateway → membership → auth → notify → email accepted by
SMTP. Baseline: a bare aio-pika chain of 4 hops (persistent messages, publisher confirms, manual acks,
quorum queues like the services'), no database."""

import asyncio
import os
import time
import uuid

import aio_pika
import aiohttp

from bench.harness import (
    AMQP_URL, BenchSystem, DatabaseCpu, broker_cpu_seconds, cpu_seconds, latency_ms, machine_busy_seconds, peak_rss_kib,
    profile, rss_kib,
)

SERVICES = ("auth", "membership", "billing", "notify", "sandbox", "gateway")  # the gateway is ready when all are


async def bare_chain(prefix: str, messages: int, window: int = 100, hops: int = 4) -> tuple[float, float]:
    """Messages per second through ``hops`` consumers, each republishing (with a confirm) then acking,
    and the whole machine's CPU milliseconds per message meanwhile."""
    connections = [await aio_pika.connect(AMQP_URL) for _ in range(hops + 1)]
    names = [f"{prefix}chain.{i}" for i in range(hops)]
    done = asyncio.get_running_loop().create_future()
    delivered = 0
    try:
        for i, connection in enumerate(connections[:hops]):
            channel = await connection.channel(publisher_confirms=True)
            await channel.set_qos(prefetch_count=32)
            queue = await channel.declare_queue(names[i], durable=True, arguments={"x-queue-type": "quorum"})
            last = i == hops - 1

            def on_message(channel=channel, last=last, i=i):
                async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                    nonlocal delivered
                    if not last:
                        await channel.default_exchange.publish(
                            aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                            routing_key=names[i + 1],
                        )
                    await message.ack()
                    if last:
                        delivered += 1
                        if delivered == messages and not done.done():
                            done.set_result(time.monotonic())

                return handle

            await queue.consume(on_message(), no_ack=False)
        publisher = await connections[hops].channel(publisher_confirms=True)
        gate = asyncio.Semaphore(window)
        body = b'{"type": "membership.granted", "payload": {"contact_id": "' + uuid.uuid4().hex.encode() + b'"}}'

        async def publish_one() -> None:
            async with gate:
                await publisher.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), routing_key=names[0]
                )

        started, machine = time.monotonic(), machine_busy_seconds()
        await asyncio.gather(*(publish_one() for _ in range(messages)))
        finished = await asyncio.wait_for(done, timeout=300)
        return messages / (finished - started), round((machine_busy_seconds() - machine) * 1000 / messages, 2)
    finally:
        for connection in connections[:hops]:
            await connection.close()
        cleanup = await connections[hops].channel()
        for name in names:
            await cleanup.queue_delete(name)
        await connections[hops].close()


async def register(session: aiohttp.ClientSession, sink, email: str) -> tuple[float, float]:
    """(seconds until the gateway answered, seconds until the email was accepted)."""
    accepted = sink.expect(email)
    started = time.monotonic()
    await post_registration(session, email)
    answered = time.monotonic()
    at = await asyncio.wait_for(accepted, timeout=120)
    return answered - started, at - started


async def post_registration(session: aiohttp.ClientSession, email: str) -> None:
    async with session.post(
        "/api/register", json={"site": "demo", "email": email, "first_name": "Ann", "last_name": "Lee"}
    ) as r:
        if r.status != 201:
            raise RuntimeError(f"registration refused: {r.status} {await r.text()}")


async def db_work(bs: BenchSystem) -> tuple[int, int]:
    """(transactions committed, rows written) in the system's own database so far: every service."""
    await asyncio.sleep(1.2)  # backends report their counts to the statistics at most every second
    async with bs.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted AS written"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
    return row["xact_commit"], row["written"]


# Where a single registration's time goes, read from the rows each hop writes: the start of the
# transaction that wrote them (now()) or the moment itself (clock_timestamp()). Same clock: one machine.
_HOPS = """
SELECT extract(epoch FROM c.created_at)::float8 AS membership, extract(epoch FROM l.created_at)::float8 AS auth,
       extract(epoch FROM m.created_at)::float8 AS notify, extract(epoch FROM m.sending_at)::float8 AS sending
FROM membership.contacts c JOIN auth.logins l ON l.contact_id = c.id JOIN notify.messages m ON m.contact_id = c.id
WHERE c.email = $1 AND m.template = 'welcome'
"""
HOPS = (
    ("request -> membership's write (its statement)", "request", "membership"),
    ("-> auth's consumer transaction", "membership", "auth"),
    ("-> notify's consumer transaction", "auth", "notify"),
    ("-> 'sending' (SMTP up to the final '.': in notify's transaction, or the worker's claim)", "notify", "sending"),
    ("-> the SMTP server's 250 (after the commit)", "sending", "accepted"),
)


async def hops(bs: BenchSystem, timed: list[tuple[str, float, float]]) -> dict[str, float]:
    """The p50 of each hop of the single registrations ``timed`` ((email, wall-clock start, accepted))."""
    spans: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    async with bs.pool.acquire() as conn:
        for email, started, accepted in timed:
            row = await conn.fetchrow(_HOPS, email)
            if row is None:
                continue
            at = {**row, "request": started, "accepted": accepted}
            for name, start, end in HOPS:
                spans[name].append(at[end] - at[start])
    return {name: latency_ms(values)["p50_ms"] for name, values in spans.items() if values}


def cpu_now(bs: BenchSystem) -> dict[str, float]:
    """CPU seconds used so far by each service process and by this harness (load generator + SMTP sink)."""
    return {**{name: cpu_seconds(bs.pid(name)) or 0.0 for name in SERVICES}, "harness": cpu_seconds(os.getpid()) or 0.0}


async def run(quick: bool, full: bool) -> dict:
    sustained_n = 150 if quick else 2000 if full else 600
    single_n = 60 if quick else 200  # p99 of 20 would be their maximum
    concurrency = 16
    result: dict = {}
    async with BenchSystem("pipeline", SERVICES) as bs:
        async with aiohttp.ClientSession(base_url=bs.url("gateway")) as session:
            # Warm-up: the first registrations pay for connections and caches.
            for _ in range(3):
                await register(session, bs.sink, f"warm-{uuid.uuid4().hex[:10]}@example.org")
            # Latency on an idle system: one registration at a time.
            singles, timed = [], []
            for _ in range(single_n):
                email = f"one-{uuid.uuid4().hex[:10]}@example.org"
                started = time.time()
                seconds = (await register(session, bs.sink, email))[1]
                singles.append(seconds)
                timed.append((email, started, started + seconds))
                await asyncio.sleep(0.02)
            result["latency"] = latency_ms(singles)
            result["single_hops_p50_ms"] = await hops(bs, timed)
            # Sustained rate: many at once, until the last email is accepted.
            emails = [f"many-{uuid.uuid4().hex[:10]}@example.org" for _ in range(sustained_n)]
            gate = asyncio.Semaphore(concurrency)

            async def one(email):
                async with gate:
                    accepted = bs.sink.expect(email)
                    await post_registration(session, email)
                return accepted

            rss_before = {name: rss_kib(bs.pid(name)) or 0 for name in SERVICES}
            db_before = await db_work(bs)
            spies = profile(bs, ("gateway", "membership", "auth", "notify"), 2, "pipeline")
            # The services' pooled backends are there from the start: a slow scan costs the harness less.
            database_cpu = DatabaseCpu(bs.database_url.rsplit("/", 1)[1], interval=0.5)
            await database_cpu.__aenter__()
            cpu_before, broker_before, machine_before = cpu_now(bs), broker_cpu_seconds(), machine_busy_seconds()
            started = time.monotonic()
            futures = await asyncio.gather(*(one(e) for e in emails))
            accepted_at = await asyncio.wait_for(asyncio.gather(*futures), timeout=600)
            cpu_after, broker_after, machine_after = cpu_now(bs), broker_cpu_seconds(), machine_busy_seconds()
            await database_cpu.__aexit__(None, None, None)
            for spy in spies:
                spy.wait()
            # Commits include the polling loops' (relays, delivery, webhooks: ~7 a second in all, empty);
            # rows written (inserted + updated + deleted) are the registrations' own.
            commits, written = (after - before for after, before in zip(await db_work(bs), db_before))
            result["commits_per_registration"] = round(commits / sustained_n, 1)
            result["rows_written_per_registration"] = round(written / sustained_n, 1)
            elapsed = max(accepted_at) - started
            result["sustained"] = {"registrations": sustained_n, "seconds": elapsed, "per_second": sustained_n / elapsed}
            # Where the CPU went: milliseconds of CPU per registration in each process during the burst,
            # this database's PostgreSQL backends and the local RabbitMQ (shared with whatever else
            # uses them meanwhile), and the whole machine's (every process, the kernel's too): what
            # the rate can be at most is the machine's cores over that.
            ms = lambda seconds: round(seconds * 1000 / sustained_n, 2)  # noqa: E731
            result["cpu_ms_per_registration"] = {name: ms(cpu_after[name] - cpu_before[name]) for name in cpu_after}
            result["cpu_ms_per_registration"]["postgres"] = ms(sum(database_cpu.spent().values()))
            if broker_before is not None and broker_after is not None:
                result["cpu_ms_per_registration"]["rabbitmq"] = ms(broker_after - broker_before)
            result["machine_cpu_ms_per_registration"] = ms(machine_after - machine_before)
            result["machine_busy"] = round((machine_after - machine_before) / elapsed / (os.cpu_count() or 1), 3)
        # Peak resident memory of each process (VmHWM), and its RSS before and after the sustained
        # phase: what the burst added and kept.
        result["peak_rss_mib"] = {name: round((peak_rss_kib(bs.pid(name)) or 0) / 1024, 1) for name in SERVICES}
        result["rss_mib_before_burst"] = {name: round(kib / 1024, 1) for name, kib in rss_before.items()}
        result["rss_mib_after_burst"] = {name: round((rss_kib(bs.pid(name)) or 0) / 1024, 1) for name in SERVICES}
        result["baseline_per_second"], result["baseline_machine_cpu_ms_per_message"] = await bare_chain(
            bs.prefix, 1000 if quick else 5000
        )
    return result


async def soak(seconds: float, concurrency: int = 4, every: float = 10.0) -> dict:
    """Registrations, ``concurrency`` at a time, for ``seconds``; each process's RSS sampled every
    ``every`` seconds. A service that grows without bound keeps growing in the second half; one that
    is only warming up (allocator arenas, caches filling to their bound) levels off in the first."""
    async with BenchSystem("soak", SERVICES) as bs:
        bs.sink.keep_bodies = False
        samples: list[dict] = []
        done = 0
        stop = time.monotonic() + seconds

        def sample() -> None:
            samples.append({"t": round(seconds - (stop - time.monotonic()), 1), "registrations": done,
                            **{name: round((rss_kib(bs.pid(name)) or 0) / 1024, 1) for name in SERVICES},
                            "harness": round((rss_kib(os.getpid()) or 0) / 1024, 1)})

        async with aiohttp.ClientSession(base_url=bs.url("gateway")) as session:

            async def client() -> None:
                nonlocal done
                while time.monotonic() < stop:
                    email = f"soak-{uuid.uuid4().hex[:12]}@example.org"
                    accepted = bs.sink.expect(email)
                    await post_registration(session, email)
                    await asyncio.wait_for(accepted, timeout=120)
                    bs.sink.forget(email)
                    done += 1

            async def sampler() -> None:
                while time.monotonic() < stop:
                    sample()
                    await asyncio.sleep(every)

            await asyncio.gather(sampler(), *(client() for _ in range(concurrency)))
            sample()
        async with bs.pool.acquire() as conn:
            rows = {
                table: await conn.fetchval(f"SELECT count(*) FROM {table}")
                for table in ("membership.inbox", "auth.inbox", "notify.inbox", "notify.messages",
                              "membership.outbox", "auth.outbox", "notify.outbox")
            }
        peak = {name: round((peak_rss_kib(bs.pid(name)) or 0) / 1024, 1) for name in SERVICES}
    return {"seconds": seconds, "registrations": done, "per_second": done / seconds, "samples": samples,
            "growth_mib": growth(samples), "peak_rss_mib": peak, "rows_after": rows}


def growth(samples: list[dict]) -> dict:
    """Per process: RSS at the first sample, at the middle, at the end, and what each half added."""
    if len(samples) < 3:
        return {}
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    return {
        name: {"start": first[name], "middle": middle[name], "end": last[name],
               "first_half": round(middle[name] - first[name], 1), "second_half": round(last[name] - middle[name], 1)}
        for name in (*SERVICES, "harness")
    }
