"""The chaos scenarios, sized by their arguments: the short tests run them small, ``make chaos`` big.

Each returns an ``Outcome`` counted the way Jepsen does: an operation the system acknowledged and
never applied is lost; applied twice, duplicated; applied wrongly, blank.
"""

import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import aio_pika
import aiohttp
import asyncpg

from services.billing.seed import seed_due_subscriptions
from services.membership.seed import DEMO_SITE_ID, demo_id
from services.system import ROOT
from tests.chaos.harness import ADMIN_KEY, ChaosSystem, DropProxy, Outcome
from tests.e2e.helpers import welcome_fields

WELCOME_SUBJECT = "set your password"
MONTHLY = demo_id("product:monthly")


# --- signups flowing to welcome emails --------------------------------------------------------------


async def _register(session: aiohttp.ClientSession, email: str, deadline: float) -> bool:
    """Register until the system answers 201, or 409 (an earlier attempt whose answer was lost took)."""
    body = {"site": "demo", "email": email, "first_name": "Ann", "last_name": "Lee"}
    while time.monotonic() < deadline:
        try:
            async with session.post("/api/register", json=body, timeout=aiohttp.ClientTimeout(total=10)) as r:
                if r.status in (201, 409):
                    return True
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        await asyncio.sleep(0.2)
    return False


def tally_welcomes(smtp, emails: list[str]) -> tuple[int, int, int]:
    """(lost, duplicated, blank) of the welcome emails the SMTP server holds for ``emails``."""
    wanted = set(emails)
    counts: Counter = Counter()
    blank = 0
    for msg in list(smtp.messages):
        if WELCOME_SUBJECT not in msg["Subject"]:
            continue
        for address in msg.envelope_to:
            if address in wanted:
                counts[address] += 1
                fields = welcome_fields(msg)
                if fields["username"] != address or "Hello Ann" not in fields["text"] or "{{" in fields["text"]:
                    blank += 1
    lost = sum(1 for e in emails if counts[e] == 0)
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    return lost, duplicated, blank


async def wait_for_welcomes(smtp, emails: list[str], timeout: float) -> None:
    wanted = set(emails)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = {a for m in list(smtp.messages) if WELCOME_SUBJECT in m["Subject"] for a in m.envelope_to} & wanted
        if len(got) == len(wanted):
            await asyncio.sleep(1.0)  # a late duplicate would show now
            return
        await asyncio.sleep(0.2)


async def signups(cs: ChaosSystem, smtp, *, count: int, concurrency: int = 16, during=None,
                  budget: float = 120.0) -> tuple[list[str], list[str], float]:
    """``count`` registrations through the gateway while ``during()`` runs; returns (acknowledged,
    unacknowledged, seconds)."""
    tag = uuid.uuid4().hex[:8]
    emails = [f"chaos-{tag}-{i}@example.org" for i in range(count)]
    # Each process of a crash loop re-imports the faults spec: CC_FAULT reaches only new processes.
    deadline = time.monotonic() + budget
    started = time.monotonic()
    queue: asyncio.Queue = asyncio.Queue()
    for e in emails:
        queue.put_nowait(e)
    acked, unacked = [], []

    async def client(session):
        while not queue.empty():
            email = queue.get_nowait()
            (acked if await _register(session, email, deadline) else unacked).append(email)

    async with aiohttp.ClientSession(base_url=cs.url("gateway")) as session:
        fault = asyncio.create_task(during()) if during else None
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        if fault:
            await fault
    return acked, unacked, time.monotonic() - started


async def kill_at_random(cs: ChaosSystem, services: list[str], kills_each: int, spread: float, seed: int = 1) -> float:
    """SIGKILL each of ``services`` ``kills_each`` times at random moments over ``spread`` seconds,
    restarting it at once (as a supervisor would); → when the last one was back (``time.monotonic``)."""
    rnd = random.Random(seed)
    plan = sorted((rnd.uniform(0, spread), s) for s in services for _ in range(kills_each))
    started = time.monotonic()
    for at, service in plan:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        cs.kill(service)
        cs.restart(service)
        await asyncio.to_thread(cs.system.wait_ready, [service], 60)
    return time.monotonic()


async def sending_window(cs: ChaosSystem, emails: list[str], period: tuple[float, float] | None = None) -> dict:
    """What notify recorded about its SMTP window for these emails: how many were found 'sending'
    and sent again (``uncertain_resends``); the old measure of the window (from the committed
    'sending', before the final ".", to the committed 'sent'); and the window a kill turns into a
    duplicate, from writing the "." to writing the record of its 250 (``end_of_data_at``,
    ``window_us``): its percentiles, and over ``period`` (wall-clock seconds, the kills'):

    - ``in_window``: the expected number of messages inside their window at a random instant of the
      period (Little's law: the sum of the windows' durations in it / its length), i.e. the expected
      duplicates per kill of notify at a random moment;
    - ``busy``: the fraction of the period with at least one message in its window (the union)."""
    db = await asyncpg.connect(cs.database_url)
    try:
        row = await db.fetchrow(
            "SELECT count(*) FILTER (WHERE uncertain_resends > 0) AS messages, coalesce(sum(uncertain_resends), 0) AS resends,"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,"
            " max(ms) AS max FROM (SELECT uncertain_resends, extract(epoch FROM sent_at - sending_at) * 1000 AS ms"
            " FROM notify.messages WHERE template = 'welcome' AND to_address = ANY($1::text[])) m", emails)
        spans = [(float(r["at"]), r["window_us"] / 1e6) for r in await db.fetch(
            "SELECT extract(epoch FROM end_of_data_at) AS at, window_us FROM notify.messages"
            " WHERE template = 'welcome' AND to_address = ANY($1::text[]) AND window_us IS NOT NULL ORDER BY 1", emails)]
    finally:
        await db.close()
    out = {k: (row[k] or 0) for k in row.keys()}
    ms = sorted(w * 1000 for _, w in spans) or [0.0]
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    out.update(w_n=len(spans), w_mean=sum(ms) / len(ms), w_p50=pick(0.5), w_p99=pick(0.99), w_max=ms[-1])
    a, b = period if period else ((spans[0][0], spans[-1][0] + spans[-1][1]) if spans else (0.0, 1.0))
    total = busy = 0.0
    reach = a  # the union so far ends here
    for at, w in spans:  # sorted by start
        lo, hi = max(at, a), min(at + w, b)
        if hi <= lo:
            continue
        total += hi - lo
        busy += max(0.0, hi - max(lo, reach))
        reach = max(reach, hi)
    out.update(period=b - a, in_window=total / (b - a), busy=busy / (b - a))
    return out


def window_note(window: dict, notify_kills: int) -> str:
    return (f"notify's SMTP window: {window['messages']} messages found 'sending' and sent again ({window['resends']} resends);"
            f" '.' to the record of its 250 (n {window['w_n']}): mean {window['w_mean']:.2f} ms, p50 {window['w_p50']:.2f} ms,"
            f" p99 {window['w_p99']:.2f} ms, max {window['w_max']:.1f} ms; messages in it at a random instant of the"
            f" {window['period']:.0f} s of kills {window['in_window']:.4f} (expected duplicates per notify kill;"
            f" x{notify_kills} kills = {window['in_window'] * notify_kills:.2f}), at least one {window['busy'] * 100:.2f}% of the time;"
            f" old measure ('sending' committed to 'sent'): p50 {window['p50']:.1f} ms, p99 {window['p99']:.1f} ms,"
            f" max {window['max']:.1f} ms")


async def consumer_killed(cs: ChaosSystem, smtp, *, signups_count: int, kills_each: int, spread: float) -> Outcome:
    started = time.monotonic()
    last_kill = 0.0
    kills_period = [0.0, 0.0]  # wall clock, for the window's share of it

    async def kills():
        nonlocal last_kill
        kills_period[0] = time.time()
        last_kill = await kill_at_random(cs, ["membership", "auth", "notify"], kills_each, spread)
        kills_period[1] = time.time()

    acked, unacked, _ = await signups(cs, smtp, count=signups_count, during=kills,
                                      budget=max(spread + 120, signups_count / 5))
    # The bar: queues drained within 60 s of the last kill (or of the last signup, when the
    # signups went on longer). A slower drain is waited out (late is not lost) and counts as blank.
    quiet = time.monotonic()
    await wait_for_welcomes(smtp, acked, timeout=max(60.0, signups_count / 2))  # late is not lost: 2 a second
    drained = time.monotonic() - 1.0 - quiet  # wait_for_welcomes waits 1 s for late duplicates
    lost, duplicated, blank = tally_welcomes(smtp, acked)
    window = await sending_window(cs, acked, (kills_period[0], kills_period[1]))
    return Outcome(
        f"consumer killed ({kills_each}x each of membership, auth, notify)", len(acked), lost + len(unacked),
        duplicated, blank + (drained > 60), time.monotonic() - started,
        note=f"queues drained {drained:.0f} s after the signups and kills ended (the last kill's restart"
             f" {quiet - last_kill:.0f} s before that end); " + window_note(window, kills_each),
    )


RESUME_WITHIN = 30.0  # seconds after a broker start by which every consumer must have consumed again


async def consuming_again(cs: ChaosSystem, moments: list[float], within: float = RESUME_WITHIN) -> list[float | None]:
    """For each moment (a broker start), the seconds until the slowest of the signup chain's consumers
    committed its next event (its inbox's ``processed_at``); None: one did not before the next moment,
    or, after the last, within ``within`` seconds (waited for: a consumer reconnects on its own
    schedule, aio-pika's every 5 s, and may not have done so yet when the emails are all in)."""
    db = await asyncpg.connect(cs.database_url)
    try:
        delays = []
        for i, at in enumerate(moments):
            last = i + 1 == len(moments)
            while True:
                until = time.time() if last else moments[i + 1]
                firsts = [await db.fetchval(
                    f"SELECT extract(epoch FROM min(processed_at)) FROM {schema}.inbox"
                    " WHERE processed_at >= to_timestamp($1) AND processed_at < to_timestamp($2)", at, until)
                    for schema in ("auth", "billing", "notify")]
                if not last or None not in firsts or until - at > within:
                    break
                await asyncio.sleep(0.2)
            delays.append(None if None in firsts else max(float(f) - at for f in firsts))
    finally:
        await db.close()
    return delays


async def broker_restart(cs: ChaosSystem, smtp, *, signups_count: int, restarts: int, spread: float) -> Outcome:
    """RabbitMQ stopped and started ``restarts`` times while signups flow; the services are not
    restarted (their pids stay), and must consume again within 30 s of each broker start."""
    pids = {n: p.popen.pid for n, p in cs.system.processes.items()}
    started = time.monotonic()

    broker_up: list[float] = []  # wall clock (the database's too) when each broker start answered
    probes: list[str] = []

    async def restart_broker():
        async with aiohttp.ClientSession(base_url=cs.url("gateway")) as session:
            for i in range(restarts):
                await asyncio.sleep(spread / (restarts + 1))
                await asyncio.to_thread(cs.rabbit.restart, 1.0)
                broker_up.append(time.time())
                # One signup of our own right after each start: every consumer then has something to
                # consume, even when the signups ended before this restart.
                probes.append(f"chaos-probe-{uuid.uuid4().hex[:8]}@example.org")
                await _register(session, probes[-1], time.monotonic() + 60)

    acked, unacked, _ = await signups(cs, smtp, count=signups_count, during=restart_broker,
                                      budget=max(spread + 120, signups_count / 5))
    acked += probes
    quiet = time.monotonic()
    await wait_for_welcomes(smtp, acked, timeout=max(60.0, signups_count / 2))  # late is not lost: 2 a second
    drained = time.monotonic() - 1.0 - quiet
    lost, duplicated, blank = tally_welcomes(smtp, acked)
    resumed = await consuming_again(cs, broker_up)
    same = {n: p.popen.pid for n, p in cs.system.processes.items()} == pids and all(
        p.popen.poll() is None for p in cs.system.processes.values())
    slow = sum(1 for r in resumed if r is None or r > RESUME_WITHIN)
    return Outcome(
        f"broker restarted {restarts}x", len(acked), lost + len(unacked), duplicated,
        blank + (0 if same else 1) + slow, time.monotonic() - started,
        note=("" if same else "a service restarted; ") + "every consumer (auth, billing, notify) consuming again after "
        + ", ".join("never" if r is None else f"{r:.1f} s" for r in resumed)
        + f" of each broker start; queues drained {drained:.0f} s after the last signup",
    )


# --- billing ------------------------------------------------------------------------------------------


async def new_token(cs: ChaosSystem) -> str:
    async with aiohttp.ClientSession() as s, s.post(
        cs.url("sandbox") + "/sandbox/v1/tokens",
        json={"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123"},
    ) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["token"]


async def tally_billing(db: asyncpg.Pool, orders: list[uuid.UUID], token: str) -> tuple[int, int, int, dict]:
    """(lost, duplicated, mismatched, details): per order, successful charges at the processor and
    succeeded payments in the ledger; the ledger's total against the processor's, to the cent."""
    charges = {
        uuid.UUID(r["order_id"]): r["n"]
        for r in await db.fetch(
            "SELECT split_part(idempotency_key, ':', 2) AS order_id, count(*) AS n FROM sandbox.charges"
            " WHERE token = $1 AND status = 'succeeded' GROUP BY 1", token,
        )
    }
    ledger = {
        r["order_id"]: r["n"]
        for r in await db.fetch(
            "SELECT order_id, count(*) AS n FROM billing.payments WHERE order_id = ANY($1::uuid[])"
            " AND status = 'succeeded' GROUP BY 1", orders,
        )
    }
    processor_total = await db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM sandbox.charges WHERE token = $1 AND status = 'succeeded'", token)
    ledger_total = await db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM billing.payments WHERE order_id = ANY($1::uuid[]) AND status = 'succeeded'",
        orders)
    lost = sum(1 for o in orders if charges.get(o, 0) == 0 or ledger.get(o, 0) == 0)
    duplicated = sum(max(charges.get(o, 0) - 1, 0) + max(ledger.get(o, 0) - 1, 0) for o in orders)
    mismatched = sum(1 for o in orders if charges.get(o, 0) != ledger.get(o, 0)) + (processor_total != ledger_total)
    return lost, duplicated, mismatched, {"processor_total": processor_total, "ledger_total": ledger_total}


async def billing_under_crashes(cs: ChaosSystem, db: asyncpg.Pool, *, orders_count: int, kills: int,
                                drop: float, budget: float) -> Outcome:
    """The billing run as its own process (``services.cli billing-run --direct``), SIGKILLed ``kills``
    times and started again until it finishes, its processor calls through a proxy that loses
    ``drop`` of the answers after the processor acted."""
    token = await new_token(cs)
    now = datetime.now(timezone.utc)
    orders = await seed_due_subscriptions(db, token=token, count=orders_count, due_at=now - timedelta(hours=1))
    proxy = DropProxy(cs.system.processes["sandbox"].port, drop=drop, seed=7)
    await proxy.start()
    env = {**cs.system.service_env(), "CC_SANDBOX_URL": proxy.url}
    args = [sys.executable, "-m", "services.cli", "billing-run", "--direct", "--as-of", now.isoformat()]
    started = time.monotonic()
    deadline = started + budget
    rnd = random.Random(3)
    killed, runs = 0, 0
    try:
        while time.monotonic() < deadline:
            runs += 1
            proc = await asyncio.create_subprocess_exec(
                *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            if killed < kills:
                # A kill some way into this run (it may finish first: then it was not needed).
                try:
                    await asyncio.wait_for(proc.wait(), timeout=rnd.uniform(0.5, 2.5))
                except asyncio.TimeoutError:
                    proc.kill()  # SIGKILL, by the pid of the process started just above
                    await proc.wait()
                    killed += 1
                    continue
            else:
                await asyncio.wait_for(proc.wait(), timeout=max(deadline - time.monotonic(), 1))
            open_ = await db.fetchval(
                "SELECT count(*) FROM billing.invoices WHERE order_id = ANY($1::uuid[]) AND status <> 'paid'", orders)
            unbilled = await db.fetchval(
                "SELECT count(*) FROM billing.orders WHERE id = ANY($1::uuid[]) AND periods_billed < 2", orders)
            if proc.returncode == 0 and open_ == 0 and unbilled == 0:
                break
            # Uncertain charges left open wait for their retry time: the next run is a bit later.
            now += timedelta(hours=2)
            args[-1] = now.isoformat()
    finally:
        await proxy.close()
    lost, duplicated, mismatched, totals = await tally_billing(db, orders, token)
    return Outcome(
        f"billing: worker SIGKILLed {killed}x, {drop:.0%} answers dropped ({proxy.dropped})", orders_count,
        lost, duplicated, mismatched, time.monotonic() - started,
        note=f"{runs} runs; processor {int(totals['processor_total'])}, ledger {int(totals['ledger_total'])} (cents)",
    )


async def database_restart(cs: ChaosSystem, db_url: str, *, orders_count: int, budget: float) -> Outcome:
    """PostgreSQL restarted (as a crash) during a billing run of the billing SERVICE: the service is
    not restarted, the run is asked for again until every order is charged, each exactly once."""
    db = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    try:
        token = await new_token(cs)
        now = datetime.now(timezone.utc)
        orders = await seed_due_subscriptions(db, token=token, count=orders_count, due_at=now - timedelta(hours=1))
    finally:
        await db.close()
    pid = cs.system.processes["billing"].popen.pid
    started = time.monotonic()
    deadline = started + budget
    headers = {"X-Api-Key": ADMIN_KEY}

    async def run_billing(session):
        try:
            async with session.post("/admin/api/billing/run", json={"as_of": now.isoformat()}, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=120)) as r:
                return r.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return None

    async with aiohttp.ClientSession(base_url=cs.url("gateway")) as session:
        first = asyncio.create_task(run_billing(session))
        await asyncio.sleep(0.7)
        await asyncio.to_thread(cs.pg.restart, 1.0, "immediate")
        await first
        while time.monotonic() < deadline:
            status = await run_billing(session)
            if status == 200:
                db = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
                try:
                    open_ = await db.fetchval(
                        "SELECT count(*) FROM billing.orders o WHERE id = ANY($1::uuid[]) AND (periods_billed < 2"
                        " OR EXISTS (SELECT 1 FROM billing.invoices i WHERE i.order_id = o.id AND i.status <> 'paid'))",
                        orders)
                finally:
                    await db.close()
                if open_ == 0:
                    break
            await asyncio.sleep(1.0)
    db = await asyncpg.create_pool(db_url, min_size=1, max_size=2)
    try:
        lost, duplicated, mismatched, totals = await tally_billing(db, orders, token)
    finally:
        await db.close()
    same = cs.system.processes["billing"].popen.pid == pid and cs.system.processes["billing"].popen.poll() is None
    return Outcome(
        "database restarted during a billing run", orders_count, lost, duplicated, mismatched + (0 if same else 1),
        time.monotonic() - started, note="" if same else "billing restarted",
    )


# --- poison messages -----------------------------------------------------------------------------------


BLOCKED = "blocked-by-data@example.org"


async def poison_messages(cs: ChaosSystem, db: asyncpg.Pool, *, total: int, poisoned: int) -> Outcome:
    """``total`` membership.contact.created events to billing, ``poisoned`` of them malformed; one
    more whose handler fails on the data until an operator fixes it, then replays it with the CLI."""
    started = time.monotonic()
    prefix = "chaos."
    # The operator's data problem: billing cannot store this one contact until the trigger is dropped.
    await db.execute(
        "CREATE OR REPLACE FUNCTION billing.chaos_block() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF NEW.email = '{BLOCKED}' THEN RAISE EXCEPTION 'blocked'; END IF; RETURN NEW; END $$;"
        " DROP TRIGGER IF EXISTS chaos_block ON billing.contacts;"
        " CREATE TRIGGER chaos_block BEFORE INSERT ON billing.contacts FOR EACH ROW EXECUTE FUNCTION billing.chaos_block()"
    )
    rnd = random.Random(5)
    bad_positions = set(rnd.sample(range(total), poisoned))
    good: list[uuid.UUID] = []
    connection = await aio_pika.connect(cs.rabbit.url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(f"{prefix}cc.events", aio_pika.ExchangeType.TOPIC, durable=True)

        def envelope(contact_id, email):
            return {
                "id": str(uuid.uuid4()), "type": "membership.contact.created", "version": 1,
                "occurred_at": datetime.now(timezone.utc).isoformat(), "producer": "chaos", "correlation_id": "chaos",
                "payload": {"contact_id": str(contact_id), "site_id": str(DEMO_SITE_ID), "site_slug": "demo",
                            "email": email, "first_name": "Ann", "last_name": "Lee"},
            }

        bodies = []
        for i in range(total):
            contact_id = uuid.uuid4()
            if i in bad_positions:
                kind = i % 3
                if kind == 0:
                    body = b"{not json"
                elif kind == 1:
                    e = envelope(contact_id, "x@example.org")
                    del e["payload"]["site_id"]
                    body = json.dumps(e).encode()
                else:
                    e = envelope(contact_id, "x@example.org")
                    e["payload"]["contact_id"] = "not-a-uuid"
                    body = json.dumps(e).encode()
            else:
                good.append(contact_id)
                body = json.dumps(envelope(contact_id, f"p-{contact_id}@example.org")).encode()
            bodies.append(body)
        blocked_id = uuid.uuid4()
        blocked_envelope = envelope(blocked_id, BLOCKED)
        bodies.append(json.dumps(blocked_envelope).encode())
        for body in bodies:
            await exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(uuid.uuid4())),
                routing_key="membership.contact.created", mandatory=True,
            )

        async def applied():
            return await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = ANY($1::uuid[])", good)

        async def dead():
            q = await channel.declare_queue(f"{prefix}billing.events.dead", durable=True,
                                            arguments={"x-queue-type": "quorum"}, passive=True)
            return q.declaration_result.message_count

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (await applied() < len(good) or await dead() < poisoned + 1):
            await asyncio.sleep(0.3)
        applied_n, dead_n = await applied(), await dead()
        # Each dead letter was delivered at most the configured limit (the queue's x-delivery-limit).
        over_limit = 0
        letters = []
        q = await channel.declare_queue(f"{prefix}billing.events.dead", passive=True)
        while (m := await q.get(no_ack=False, fail=False)) is not None:
            letters.append(m)
            deliveries = int((m.headers or {}).get("x-delivery-count", 0) or 0)
            if deliveries > 5:
                over_limit += 1
        for m in letters:
            await m.nack(requeue=True)
    finally:
        await connection.close()

    # The fix, then the operator's replay of that one letter with the CLI.
    await db.execute("DROP TRIGGER chaos_block ON billing.contacts")
    env = {**cs.system.service_env()}
    letter_ids = [m.message_id for m in letters if BLOCKED.encode() in m.body]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "dead-letters", "replay", "--service", "billing",
        *[a for i in letter_ids for a in ("--id", i)], cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    await proc.communicate()
    replayed = False
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not replayed:
        replayed = bool(await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", blocked_id))
        await asyncio.sleep(0.2)
    lost = len(good) - applied_n + (0 if replayed else 1)
    unexpected = abs(dead_n - (poisoned + 1)) + over_limit + (0 if len(letter_ids) == 1 else 1)
    return Outcome(
        f"poison messages ({poisoned} malformed + 1 replayed)", total + 1, lost, 0, unexpected,
        time.monotonic() - started, note=f"dead {dead_n}, applied {applied_n}, replayed {replayed}",
    )


# --- outbox crash points ---------------------------------------------------------------------------------


OUTBOX_POINTS = ("uow.before_commit", "uow.after_commit", "outbox.after_publish")


def _injected(cs: ChaosSystem, service: str) -> Counter:
    log = cs.system.processes[service].log_path
    text = log.read_text(errors="replace") if log.exists() else ""
    return Counter(line.split("point=")[1].split()[0] for line in text.splitlines() if "fault.injected point=" in line)


async def outbox_crash_points(cs: ChaosSystem, *, commands: int, crashes_each: int, budget: float) -> Outcome:
    """Registrations (membership: a contact row and its ``membership.contact.created`` in one
    transaction) while membership dies at each outbox crash point ``crashes_each`` times
    (``shared/faults.py``), restarted at once. Every contact has its event, every event its contact."""
    service = "membership"
    before = _injected(cs, service)
    # The relay publishes in batches (fewer than commands): its point gets a higher chance.
    chance = {p: min(0.5, 2.0 * crashes_each / commands) for p in OUTBOX_POINTS}
    chance["outbox.after_publish"] = min(0.5, 12.0 * crashes_each / commands)
    events: list[dict] = []
    connection = await aio_pika.connect(cs.rabbit.url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange("chaos.cc.events", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="membership.contact.created")

    async def on_message(message):
        async with message.process():
            events.append(json.loads(message.body))

    await queue.consume(on_message)

    def faults() -> str:
        done = _injected(cs, service) - before
        return ",".join(f"{p}:{chance[p]}" for p in OUTBOX_POINTS if done[p] < crashes_each)

    def respawn() -> None:
        cs.system.env["CC_FAULT"] = faults()
        cs.kill(service)
        cs.restart(service)

    stop = asyncio.Event()

    async def supervise():
        respawn()
        while not stop.is_set():
            if cs.system.processes[service].popen.poll() is not None:
                respawn()
            await asyncio.sleep(0.05)

    started = time.monotonic()
    supervisor = asyncio.create_task(supervise())
    try:
        # The commands, then more in small rounds until every point was hit as often as asked.
        acked, unacked, _ = await signups(cs, None, count=commands, concurrency=8, budget=budget)
        while faults() and time.monotonic() - started < budget - 15:
            more, more_unacked, _ = await signups(cs, None, count=max(commands // 10, 10), concurrency=8,
                                                  budget=budget - (time.monotonic() - started))
            acked += more
            unacked += more_unacked
    finally:
        stop.set()
        await supervisor
        cs.system.env.pop("CC_FAULT", None)
        cs.kill(service)
        cs.restart(service)
        await asyncio.to_thread(cs.system.wait_ready, [service], 60)
    injected = _injected(cs, service) - before

    db = await asyncpg.create_pool(cs.database_url, min_size=1, max_size=2)
    try:
        rows = await db.fetch("SELECT id, email FROM membership.contacts WHERE email = ANY($1::text[])", acked + unacked)
    finally:
        await db.close()
    contacts = {str(r["id"]): r["email"] for r in rows}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not set(contacts) <= {e["payload"]["contact_id"] for e in events}:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)
    await connection.close()
    wanted = set(acked + unacked)
    seen = Counter(e["payload"]["contact_id"] for e in events if e["payload"]["email"] in wanted)
    state_without_event = sum(1 for c in contacts if seen[c] == 0)
    event_without_state = sum(1 for c in seen if c not in contacts)
    lost = sum(1 for e in acked if e not in set(contacts.values())) + len(unacked)
    duplicated = len(rows) - len(set(contacts.values()))  # a second contact for one command
    republished = sum(n - 1 for n in seen.values() if n > 1)
    return Outcome(
        "outbox crash points (" + ", ".join(f"{p} {injected[p]}" for p in OUTBOX_POINTS) + ")",
        len(acked), lost + state_without_event, duplicated, event_without_state, time.monotonic() - started,
        note=f"effects {len(contacts)}; {republished} events published again (at-least-once, absorbed by inboxes)",
    )


# --- notify killed in its sending window ------------------------------------------------------------------


async def notify_killed_at(cs: ChaosSystem, smtp, db: asyncpg.Pool, point: str) -> dict:
    """One signup while notify dies (``shared/faults.py``) at ``point`` of its delivery, then notify
    started again: → what the SMTP server received and what notify recorded for that email."""
    email = f"chaos-window-{uuid.uuid4().hex[:8]}@example.org"
    cs.system.env.update(CC_FAULT=f"{point}:1", CC_DELIVERY_UNCERTAIN_SECONDS="1")
    try:
        cs.kill("notify")
        cs.restart("notify")
        await asyncio.to_thread(cs.system.wait_ready, ["notify"], 60)
        async with aiohttp.ClientSession(base_url=cs.url("gateway")) as session:
            assert await _register(session, email, time.monotonic() + 30)
        deadline = time.monotonic() + 30
        while cs.system.processes["notify"].popen.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        died = cs.system.processes["notify"].popen.poll() == 137
        delivered_before_restart = len([m for m in smtp.messages if email in m.envelope_to])
        del cs.system.env["CC_FAULT"]
        cs.kill("notify")
        cs.restart("notify")
        await asyncio.to_thread(cs.system.wait_ready, ["notify"], 60)

        async def recorded():
            return await db.fetchrow(
                "SELECT status, attempts, uncertain_resends FROM notify.messages WHERE to_address = $1"
                " AND template = 'welcome'", email)

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and ((row := await recorded()) is None or row["status"] != "sent"):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a late copy would show now
    finally:
        cs.system.env.pop("CC_FAULT", None)
        cs.system.env.pop("CC_DELIVERY_UNCERTAIN_SECONDS", None)
        cs.kill("notify")
        cs.restart("notify")
        await asyncio.to_thread(cs.system.wait_ready, ["notify"], 60)
    received = [m for m in smtp.messages if email in m.envelope_to]
    return {
        "died": died,
        "delivered_before_restart": delivered_before_restart,
        "received": len(received),
        "message_ids": {m["Message-ID"] for m in received},
        "record": dict(row) if row else None,
    }
