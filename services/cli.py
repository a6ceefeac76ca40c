"""Operator commands: ``python -m services.cli migrate | seed-demo``."""

import argparse
import asyncio
import secrets
import sys
from pathlib import Path

import asyncpg

from shared.db import ensure_database, migrate
from shared.logging import configure_logging
from shared.settings import ServiceSettings

SCHEMAS = ("auth", "billing", "membership", "notify")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the database if needed and apply every service's migrations")
    seed = sub.add_parser("seed-demo", help="create the demo site (idempotent); prints its admin API key")
    seed.add_argument("--admin-key", default=None, help="use this admin key (default: CC_DEMO_ADMIN_KEY or a new one)")
    args = parser.parse_args(argv)
    settings = ServiceSettings(service="cli", log_format="console")
    configure_logging(settings)
    if args.command == "migrate":
        asyncio.run(migrate_all(settings.database_url))
    elif args.command == "seed-demo":
        import os

        key = asyncio.run(seed_demo(settings.database_url, args.admin_key or os.environ.get("CC_DEMO_ADMIN_KEY")))
        print(f"demo site seeded; admin API key: {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
