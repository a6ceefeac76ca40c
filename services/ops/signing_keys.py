"""Rotating auth's Ed25519 signing keys (``auth.signing_keys``).

The newest unretired key signs access tokens; every unretired key is published in the JWKS, so a
token signed before a rotation stays valid until it expires. Auth reads its keys when it starts:
after ``rotate`` restart auth; after ``retire`` too (then the JWKS no longer offers the old key).
"""

import json

import asyncpg

from services.auth.keys import _generate


class CannotRetire(Exception):
    pass


async def rotate(conn: asyncpg.Connection) -> str:
    """Add a new key, which signs from auth's next start; returns its kid."""
    kid, pem, jwk = _generate()
    await conn.execute(
        "INSERT INTO signing_keys (kid, private_pem, public_jwk) VALUES ($1, $2, $3::jsonb)", kid, pem, json.dumps(jwk)
    )
    return kid


async def keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at DESC")


async def retire(conn: asyncpg.Connection, kid: str) -> None:
    """Stop publishing (and trusting) a key. The newest active key cannot be retired."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cc-auth-signing-key'))")
        active = [r["kid"] for r in await conn.fetch(
            "SELECT kid FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC"
        )]
        if kid not in active:
            raise CannotRetire(f"{kid} is not an active key")
        if active[0] == kid:
            raise CannotRetire(f"{kid} is the key that signs now: rotate first")
        await conn.execute("UPDATE signing_keys SET retired_at = now() WHERE kid = $1", kid)
