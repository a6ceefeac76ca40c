"""``python -m services.auth`` serves auth. Operator commands on its signing keys:

    python -m services.auth rotate-key        a new key signs from now on (running auths pick it up)
    python -m services.auth retire-key KID    take an old key out of the JWKS (after the access-token lifetime)
    python -m services.auth list-keys
"""

import argparse
import asyncio
import sys

import asyncpg

from services.auth.settings import AuthSettings
from shared.logging import configure_logging


async def _keys_command(settings: AuthSettings, command: str, kid: str | None) -> int:
    from services.auth import keys

    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": "auth"})
    try:
        if command == "rotate-key":
            print(f"new signing key: {await keys.rotate(conn)}")
        elif command == "retire-key":
            try:
                await keys.retire(conn, kid)
            except keys.KeyRotationError as exc:
                print(f"refused: {exc}", file=sys.stderr)
                return 1
            print(f"retired: {kid}")
        for row in await keys.list_keys(conn):
            state = f"retired {row['retired_at']:%Y-%m-%d %H:%M}" if row["retired_at"] else "published"
            print(f"{row['kid']}  created {row['created_at']:%Y-%m-%d %H:%M}  {state}")
    finally:
        await conn.close()
    return 0


def main(argv: list[str]) -> int:
    settings = AuthSettings()
    if not argv:
        from services.auth.app import create_app
        from shared.app import run
        from shared.sealing import require_link_keys

        require_link_keys(settings)  # auth seals every set-password and reset link it publishes
        configure_logging(settings)
        run(create_app(settings), settings)
        return 0
    parser = argparse.ArgumentParser(prog="python -m services.auth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("rotate-key", help="add a signing key; it signs from now on")
    retire = sub.add_parser("retire-key", help="remove an older key from the JWKS")
    retire.add_argument("kid")
    sub.add_parser("list-keys", help="every signing key and whether it is published")
    args = parser.parse_args(argv)
    return asyncio.run(_keys_command(settings, args.command, getattr(args, "kid", None)))


sys.exit(main(sys.argv[1:]))
