"""Operator commands: ``python -m services.cli migrate | seed-demo | billing-run``."""

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

import asyncpg

from shared.db import ensure_database, migrate
from shared.logging import configure_logging
from shared.settings import ServiceSettings

SCHEMAS = ("auth", "billing", "membership", "notify", "sandbox")
SERVICES_DIR = Path(__file__).parent


async def migrate_all(database_url: str) -> None:
    if await ensure_database(database_url):
        print(f"created database {database_url.rsplit('/', 1)[-1]}")
    for schema in SCHEMAS:
        applied = await migrate(database_url, schema, SERVICES_DIR / schema)
        print(f"{schema}: {len(applied)} migration(s) applied" if applied else f"{schema}: up to date")


async def seed_demo(database_url: str, admin_key: str | None) -> str:
    """Seed the demo site in every service's schema; returns the admin API key."""
    from services.billing.seed import seed_demo as seed_billing
    from services.membership.seed import seed_demo as seed_membership

    key = admin_key or "cc_demo_" + secrets.token_urlsafe(24)
    for schema, seed in (("membership", lambda c: seed_membership(c, admin_key=key)), ("billing", seed_billing)):
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            await seed(conn)
        finally:
            await conn.close()
    return key


async def billing_run(as_of: str | None, site_id: str | None) -> dict:
    """One billing run over every due order (of one site when given), as the schedule would do it."""
    from datetime import datetime, timezone
    from uuid import UUID

    import aiohttp

    from services.billing.processor.sandbox import SandboxProcessor
    from services.billing.run import BillingRun
    from services.billing.settings import BillingSettings
    from shared.db import create_pool

    settings = BillingSettings()
    when = datetime.fromisoformat(as_of) if as_of else datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    pool = await create_pool(settings, "billing")
    try:
        async with aiohttp.ClientSession() as session:
            run = BillingRun(pool, SandboxProcessor(settings.sandbox_url, session), settings)
            summary = await run.run(as_of=when, site_id=UUID(site_id) if site_id else None)
    finally:
        await pool.close()
    return summary.dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the database if needed and apply every service's migrations")
    seed = sub.add_parser("seed-demo", help="create the demo site (idempotent); prints its admin API key")
    seed.add_argument("--admin-key", default=None, help="use this admin key (default: CC_DEMO_ADMIN_KEY or a new one)")
    run = sub.add_parser("billing-run", help="charge every due order now (the schedule does it too)")
    run.add_argument("--as-of", default=None, help="ISO time the run takes as now (default: now)")
    run.add_argument("--site-id", default=None, help="only this site's orders")
    args = parser.parse_args(argv)
    settings = ServiceSettings(service="cli", log_format="console")
    configure_logging(settings)
    if args.command == "migrate":
        asyncio.run(migrate_all(settings.database_url))
    elif args.command == "seed-demo":
        import os

        key = asyncio.run(seed_demo(settings.database_url, args.admin_key or os.environ.get("CC_DEMO_ADMIN_KEY")))
        print(f"demo site seeded; admin API key: {key}")
    elif args.command == "billing-run":
        import json

        print(json.dumps(asyncio.run(billing_run(args.as_of, args.site_id))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
