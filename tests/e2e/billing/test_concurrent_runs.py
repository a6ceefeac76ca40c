"""Two billing runs started at the same moment, as two processes, over 5,000 due orders: every order
is charged exactly once (its payments in billing AND its charges at the processor)."""

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

from services.billing.domain import add_months
from services.billing.seed import seed_due_subscriptions
from services.membership.seed import DEMO_SITE_ID
from services.system import ROOT
from tests.conftest import eventually
from tests.e2e.billing.conftest import tokenise

ORDERS = 5000


async def test_two_runs_at_once_charge_each_of_5000_due_orders_exactly_once(system, gateway, db, billing_events, amqp, bus_prefix):
    token = (await tokenise(gateway))["token"]
    now = datetime.now(timezone.utc)
    due_at = now - timedelta(hours=1)
    orders = await seed_due_subscriptions(db, token=token, count=ORDERS, due_at=due_at)

    env = system.service_env()
    args = [sys.executable, "-m", "services.cli", "billing-run", "--direct", "--as-of", now.isoformat(), "--site-id", str(DEMO_SITE_ID)]
    started = time.monotonic()
    runs = [
        await asyncio.create_subprocess_exec(*args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(r.communicate() for r in runs)), timeout=100)
    assert all(r.returncode == 0 for r in runs), [o[1].decode()[-2000:] for o in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    elapsed = time.monotonic() - started
    print(f"two runs over {ORDERS} orders: {elapsed:.1f}s, split {[s['succeeded'] for s in summaries]}")

    # Both runs worked (they competed), and together they charged each order once.
    assert all(s["succeeded"] > 0 for s in summaries), summaries
    assert sum(s["invoices_created"] for s in summaries) >= ORDERS
    per_order = await db.fetch(
        "SELECT o.id, count(DISTINCT i.id) AS invoices, count(p.id) AS payments,"
        " count(p.id) FILTER (WHERE p.status = 'succeeded') AS succeeded"
        " FROM billing.orders o LEFT JOIN billing.invoices i ON i.order_id = o.id"
        " LEFT JOIN billing.payments p ON p.invoice_id = i.id WHERE o.id = ANY($1::uuid[]) GROUP BY o.id",
        orders,
    )
    assert len(per_order) == ORDERS
    assert {(r["invoices"], r["payments"], r["succeeded"]) for r in per_order} == {(1, 1, 1)}
    charges = await db.fetch(
        "SELECT split_part(idempotency_key, ':', 2) AS order_id, count(*) AS n FROM sandbox.charges"
        " WHERE token = $1 GROUP BY 1",
        token,
    )
    assert len(charges) == ORDERS and {r["n"] for r in charges} == {1}
    assert {uuid.UUID(r["order_id"]) for r in charges} == set(orders)
    next_dates = await db.fetch("SELECT DISTINCT next_billing_at FROM billing.orders WHERE id = ANY($1::uuid[])", orders)
    assert [r["next_billing_at"] for r in next_dates] == [add_months(due_at, 1)]
    # What the dropped foreign keys checked (billing migration 005) holds for every row written:
    # no invoice without its order, no payment without its invoice.
    orphans = await db.fetchrow(
        "SELECT (SELECT count(*) FROM billing.invoices i WHERE NOT EXISTS"
        "         (SELECT 1 FROM billing.orders o WHERE o.id = i.order_id)) AS invoices,"
        "       (SELECT count(*) FROM billing.payments p WHERE NOT EXISTS"
        "         (SELECT 1 FROM billing.invoices i WHERE i.id = p.invoice_id)) AS payments"
    )
    assert dict(orphans) == {"invoices": 0, "payments": 0}
    # A third run at the same moment finds nothing left to do.
    third = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await third.communicate()
    assert json.loads(out)["charged"] == 0

    # 5,000 payments are 5,000 events for membership and for notify: let them drain before the next
    # test, whose welcome email would otherwise wait behind them (on a loaded machine, past its 20 s).
    channel = await amqp.channel()
    try:
        async def drained():
            for service in ("membership", "notify"):
                queue = await channel.declare_queue(f"{bus_prefix}{service}.events", passive=True)
                if queue.declaration_result.message_count:
                    return False
            return True

        await eventually(drained, timeout=180, interval=0.5, message="membership's and notify's queues drained")
    finally:
        await channel.close()

