"""``make chaos``: the long versions of the chaos scenarios, on a system of the harness's own, and
ONE table: scenario, operations, lost, duplicated, blank, time.

    python -m tests.chaos.run                 # the issue's numbers (takes hours on 2 cores)
    python -m tests.chaos.run --scale 0.1     # a tenth of every size (kills and restarts kept)
    python -m tests.chaos.run --only billing,poison
"""

import argparse
import asyncio
import platform
import sys
import time
import traceback
from datetime import datetime, timezone

import tempfile
from pathlib import Path

import asyncpg

from tests.chaos import scenarios
from tests.chaos.harness import ChaosSystem, Outcome, free_port, table
from tests.chaos.smtp_sink import SmtpSink


def plan(scale: float) -> dict:
    n = lambda full, least: max(least, int(full * scale))  # noqa: E731
    signups = n(10_000, 100)
    return {
        "consumer": lambda cs, smtp, db: scenarios.consumer_killed(
            cs, smtp, signups_count=signups, kills_each=20, spread=max(20.0, signups / 25)),
        "outbox": lambda cs, smtp, db: scenarios.outbox_crash_points(
            cs, commands=n(10_000, 100), crashes_each=n(300, 3), budget=max(120.0, 6 * n(300, 3) * 3)),
        "broker": lambda cs, smtp, db: scenarios.broker_restart(
            cs, smtp, signups_count=signups, restarts=3, spread=max(12.0, signups / 25)),
        "database": lambda cs, smtp, db: scenarios.database_restart(
            cs, cs.database_url, orders_count=n(10_000, 300), budget=600),
        "billing": lambda cs, smtp, db: scenarios.billing_under_crashes(
            cs, db, orders_count=n(10_000, 300), kills=20, drop=0.05, budget=1800),
        "poison": lambda cs, smtp, db: scenarios.poison_messages(cs, db, total=990 + 10, poisoned=10),
    }


async def main(scale: float, only: list[str] | None) -> list[Outcome]:
    spool = tempfile.TemporaryDirectory(prefix="cc-chaos-smtp-")
    mailbox = SmtpSink(free_port(), Path(spool.name) / "received")
    cs = ChaosSystem(mailbox.port)
    outcomes: list[Outcome] = []
    try:
        await cs.start()
        db = await asyncpg.create_pool(cs.database_url, min_size=1, max_size=4)
        try:
            for name, scenario in plan(scale).items():
                if only and name not in only:
                    continue
                print(f"--- {name} ...", file=sys.stderr, flush=True)
                started = time.monotonic()
                try:
                    if name == "database":
                        await db.close()  # its restart cuts every connection: the scenario opens its own
                    outcome = await scenario(cs, mailbox, db)
                except Exception as exc:
                    traceback.print_exc()
                    outcome = Outcome(name, 0, 0, 0, 0, time.monotonic() - started, note=f"FAILED: {exc!r}")
                finally:
                    if name == "database":
                        db = await asyncpg.create_pool(cs.database_url, min_size=1, max_size=4)
                print(f"    {outcome}", file=sys.stderr, flush=True)
                outcomes.append(outcome)
        finally:
            await db.close()
    finally:
        await cs.stop()
        mailbox.stop()
        spool.cleanup()
    return outcomes


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's sizes (default 1)")
    parser.add_argument("--only", default="", help="comma-separated: consumer,outbox,broker,database,billing,poison")
    args = parser.parse_args()
    started = datetime.now(timezone.utc)
    outcomes = asyncio.run(main(args.scale, [s for s in args.only.split(",") if s] or None))
    print(f"chaos run {started:%Y-%m-%d %H:%M} UTC, scale {args.scale}, {platform.node()} "
          f"({platform.machine()}, {platform.system()} {platform.release()})")
    print(table(outcomes))
    for o in outcomes:
        if o.note:
            print(f"- {o.scenario}: {o.note}")
    return 0 if all(o.ok and not o.note.startswith("FAILED") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(cli())
