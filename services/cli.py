"""Operator commands: ``python -m services.cli COMMAND`` (``--help`` lists them).

Database and broker commands use the services' own settings (``CC_DATABASE_URL``, ``CC_AMQP_URL``,
``CC_BUS_PREFIX``); admin API commands go through the gateway (``--gateway``, default
``CC_GATEWAY_URL`` or ``CC_PUBLIC_URL``) with an admin key from ``CC_ADMIN_KEY`` (or ``--api-key``).
"""

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
import uuid
from datetime import timedelta
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


async def billing_run_direct(as_of: str | None, site_id: str | None) -> dict:
    """One billing run in this process, over every due order (of one site when given), as the
    schedule does it: for big runs, or when the gateway is not there."""
    from datetime import datetime, timezone
    from uuid import UUID

    import aiohttp

    from services.billing.processor.sandbox import SandboxProcessor
    from services.billing.run import BillingRun
    from services.billing.settings import BillingSettings
    from shared.db import create_pool
    from shared.loop import freeze_start_up

    settings = BillingSettings()
    # A connection for each batch in flight, opened before the run starts.
    warm = min(max(settings.db_pool_min, settings.billing_run_concurrency), settings.db_pool_max)
    settings = settings.model_copy(update={"db_pool_min": warm})
    when = datetime.fromisoformat(as_of) if as_of else datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    pool = await create_pool(settings, "billing")
    freeze_start_up()
    try:
        async with aiohttp.ClientSession() as session:
            run = BillingRun(pool, SandboxProcessor(settings.sandbox_url, session), settings)
            started, cpu = time.time(), time.process_time()
            summary = await run.run(as_of=when, site_id=UUID(site_id) if site_id else None)
            finished, cpu = time.time(), time.process_time() - cpu
    finally:
        await pool.close()
    # When the run itself began and ended (after this process's start-up) and the CPU it took, for
    # the benchmark.
    return {**summary.dict(), "started_at": started, "finished_at": finished, "cpu_seconds": round(cpu, 4)}


async def _on_schema(database_url: str, schema: str, work):
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await work(conn)
    finally:
        await conn.close()


def _admin_api(args, settings):
    from services.ops.admin_api import AdminApi

    key = args.api_key or os.environ.get("CC_ADMIN_KEY")
    if not key:
        raise CommandError("an admin API key is needed: set CC_ADMIN_KEY (or pass --api-key)")
    url = args.gateway or os.environ.get("CC_GATEWAY_URL") or settings.public_url
    return AdminApi(url.rstrip("/"), key)


class CommandError(Exception):
    """A failure to report in one line, without a traceback."""


def _staff_password() -> str:
    """``CC_STAFF_PASSWORD``, else stdin (asked for on a terminal, one line when piped)."""
    password = os.environ.get("CC_STAFF_PASSWORD")
    if password:
        return password
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("The same password again: ") != password:
            raise CommandError("the two passwords differ")
        return password
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CommandError("no password: pipe it on stdin or set CC_STAFF_PASSWORD")
    return password


def _print_json(answer) -> None:
    print(json.dumps(answer, indent=2, sort_keys=True))


def run_command(args, settings) -> int:
    if args.command == "billing-run" and args.direct:
        # Before the other commands' imports (JWT, crypto, the broker): big runs start processes of this.
        from shared.loop import new_event_loop

        with asyncio.Runner(loop_factory=lambda: new_event_loop(settings)) as runner:
            _print_json(runner.run(billing_run_direct(args.as_of, args.site_id)))
        return 0
    from services.auth.domain import AuthError
    from services.ops import admin_keys, dead_letters, signing_keys, staff
    from services.ops.admin_api import AdminApiError

    url = settings.database_url
    command = args.command
    try:
        if command == "migrate":
            asyncio.run(migrate_all(url))
        elif command == "seed-demo":
            key = asyncio.run(seed_demo(url, args.admin_key or os.environ.get("CC_DEMO_ADMIN_KEY")))
            print(f"demo site seeded; admin API key: {key}")
        elif command == "create-admin-key":
            key_id, key = asyncio.run(_on_schema(
                url, "membership", lambda c: admin_keys.create_admin_key(c, site_slug=args.site, label=args.label)
            ))
            print(f"admin key {key_id} for site {args.site} (shown once, only its hash is kept):\n{key}")
        elif command == "list-admin-keys":
            rows = asyncio.run(_on_schema(url, "membership", lambda c: admin_keys.list_admin_keys(c, site_slug=args.site)))
            for row in rows:
                print(f"{row['id']}  {row['site']:<16} {row['created_at']:%Y-%m-%d %H:%M}  {row['label']}")
        elif command == "revoke-admin-key":
            if not asyncio.run(_on_schema(url, "membership", lambda c: admin_keys.revoke_admin_key(c, args.key_id))):
                raise CommandError(f"no admin key {args.key_id}")
            print(f"admin key {args.key_id} revoked (the gateway refuses it within a minute)")
        elif command == "staff-create":
            password = _staff_password()
            row, site_name = asyncio.run(staff.create_staff(
                url, site_slug=args.site, email=args.email, role=args.role, password=password
            ))
            verb = "created" if row["created"] else "updated (new role and password)"
            print(f"staff account {row['email']} ({row['role']}) of {site_name} {verb}: log in at /admin/login?site={args.site}")
        elif command == "rotate-signing-key":
            kid = asyncio.run(_on_schema(url, "auth", signing_keys.rotate))
            print(f"signing key {kid} added; restart auth so it signs with it"
                  " (tokens signed with the older keys stay valid until they expire)")
        elif command == "list-signing-keys":
            for row in asyncio.run(_on_schema(url, "auth", signing_keys.keys)):
                state = f"retired {row['retired_at']:%Y-%m-%d %H:%M}" if row["retired_at"] else "active"
                print(f"{row['kid']}  created {row['created_at']:%Y-%m-%d %H:%M}  {state}")
        elif command == "retire-signing-key":
            asyncio.run(_on_schema(url, "auth", lambda c: signing_keys.retire(c, args.kid)))
            print(f"signing key {args.kid} retired; restart auth so its JWKS no longer offers it")
        elif command == "link-keys":
            from shared.sealing import LinkKeyError, LinkKeys, new_key_entry

            current = os.environ.get("CC_LINK_KEYS", "").strip()
            try:
                value = new_key_entry(args.id or time.strftime("k%Y%m%d"))
                if args.rotate and current:
                    value = f"{value},{current}"
                    LinkKeys.parse(value)
            except LinkKeyError as exc:
                raise CommandError(str(exc)) from None
            print(value)
            print("give this value to auth and notify as CC_LINK_KEYS (the first key seals; keep an old key"
                  " after it while events it sealed may still be queued)", file=sys.stderr)
        elif command == "dead-letters" and args.action == "list":
            letters = asyncio.run(dead_letters.list_dead_letters(settings, args.service, args.limit))
            for d in letters:
                print(f"{d.message_id}  {d.routing_key:<32} {d.reason:<9} x{d.deaths}  {d.first_death}  corr={d.correlation_id}")
            print(f"{len(letters)} dead letter(s) in {settings.bus_prefix}{args.service}.events.dead")
        elif command == "dead-letters" and args.action == "replay":
            if not args.all and not args.ids:
                raise CommandError("name the messages to replay (--id ID, repeatable) or pass --all")
            replayed, refused = asyncio.run(
                dead_letters.replay(settings, args.service, None if args.all else set(args.ids))
            )
            for d in replayed:
                print(f"replayed {d.message_id} ({d.routing_key})")
            print(f"{len(replayed)} message(s) replayed")
            for d in refused:
                print(f"error: {dead_letters.too_old_message(d, timedelta(days=settings.inbox_retention_days))}",
                      file=sys.stderr)
            missing = set(args.ids or ()) - {d.message_id for d in replayed + refused}
            if missing:
                raise CommandError(f"not in the dead-letter queue: {', '.join(sorted(missing))}")
            if refused:
                raise CommandError(f"{len(refused)} dead letter(s) older than the inbox retention left in place")
        elif command == "billing-run":
            if args.site_id:
                raise CommandError("--site-id goes with --direct (through the gateway, the admin key chooses the site)")
            _print_json(asyncio.run(_admin_api(args, settings).run_billing(args.as_of)))
        elif command == "resend-credentials":
            _print_json(asyncio.run(_admin_api(args, settings).resend_credentials(str(args.contact_id))))
        elif command == "access":
            _print_json(asyncio.run(_admin_api(args, settings).access(str(args.contact_id), args.page)))
    except AuthError as exc:  # a staff account refused: the password or email rule it breaks
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (CommandError, AdminApiError, admin_keys.SiteNotFound, signing_keys.CannotRetire, dead_letters.NoSuchQueue,
            dead_letters.TooManyDeadLetters) as exc:
        what = f"no site {exc}" if isinstance(exc, admin_keys.SiteNotFound) else str(exc)
        print(f"error: {what}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m services.cli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("migrate", help="create the database if needed and apply every service's migrations")
    seed = sub.add_parser("seed-demo", help="create the demo site (idempotent); prints its admin API key")
    seed.add_argument("--admin-key", default=None, help="use this admin key (default: CC_DEMO_ADMIN_KEY or a new one)")

    create = sub.add_parser("create-admin-key", help="a new admin API key for one site, printed once (stored hashed)")
    create.add_argument("--site", required=True, help="the site's slug")
    create.add_argument("--label", default="created with the CLI", help="what the key is for")
    listing = sub.add_parser("list-admin-keys", help="admin keys (ids, sites, labels; never the keys)")
    listing.add_argument("--site", default=None)
    revoke = sub.add_parser("revoke-admin-key", help="delete an admin key by id")
    revoke.add_argument("key_id", type=uuid.UUID)

    staff_create = sub.add_parser(
        "staff-create", help="a staff account for the admin console (password from stdin or CC_STAFF_PASSWORD)"
    )
    staff_create.add_argument("--site", required=True, help="the site's slug")
    staff_create.add_argument("--email", required=True)
    staff_create.add_argument("--role", required=True, choices=("owner", "support"),
                              help="support cannot change site settings, products or API keys")

    sub.add_parser("rotate-signing-key", help="add a new JWT signing key (restart auth afterwards)")
    sub.add_parser("list-signing-keys", help="JWT signing keys, newest first")
    retire = sub.add_parser("retire-signing-key", help="stop publishing an old JWT signing key")
    retire.add_argument("kid")

    link = sub.add_parser("link-keys", help="a new key for CC_LINK_KEYS (seals the links in auth's events)")
    link_sub = link.add_subparsers(dest="action", required=True)
    link_new = link_sub.add_parser("new", help="print a fresh '<key id>:<key>' entry")
    link_new.add_argument("--id", default=None, help="its key id (default: k<today>, e.g. k20261125)")
    link_new.add_argument("--rotate", action="store_true",
                          help="print the new key followed by the current CC_LINK_KEYS: the value after a rotation")

    dead = sub.add_parser("dead-letters", help="list or replay a service's dead-lettered messages")
    dead_sub = dead.add_subparsers(dest="action", required=True)
    dead_list = dead_sub.add_parser("list", help="show them; leaves them in place")
    dead_replay = dead_sub.add_parser("replay", help="publish them again to the queue each died in")
    for p in (dead_list, dead_replay):
        p.add_argument("--service", required=True, help="auth, membership, billing, notify, ...")
    dead_list.add_argument("--limit", type=int, default=100)
    dead_replay.add_argument("--id", dest="ids", action="append", help="a message id to replay (repeatable)")
    dead_replay.add_argument("--all", action="store_true", help="replay every dead letter of the service")

    billing = sub.add_parser(
        "billing-run", help="run billing now (POST /admin/api/billing/run, or in this process with --direct)"
    )
    billing.add_argument("--as-of", default=None, help="ISO date-time to bill as of (default: now)")
    billing.add_argument("--direct", action="store_true",
                         help="run in this process against the database and the processor, not through the gateway")
    billing.add_argument("--site-id", default=None, help="with --direct: only this site's orders (default: every site)")
    resend = sub.add_parser("resend-credentials", help="email a contact a fresh set-password link")
    resend.add_argument("contact_id", type=uuid.UUID)
    access = sub.add_parser("access", help="may a contact open a page, and why (or why not)")
    access.add_argument("contact_id", type=uuid.UUID)
    access.add_argument("--page", required=True, help="the page's path, e.g. /gold/lessons")
    for p in (billing, resend, access):
        p.add_argument("--gateway", default=None, help="the gateway's URL (default CC_GATEWAY_URL or CC_PUBLIC_URL)")
        p.add_argument("--api-key", default=None, help="prefer CC_ADMIN_KEY: arguments show in the process list")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = ServiceSettings(service="cli", log_format="console")
    configure_logging(settings, stream=sys.stderr)  # stdout carries the answers
    return run_command(args, settings)


if __name__ == "__main__":
    sys.exit(main())
