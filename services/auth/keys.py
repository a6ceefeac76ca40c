"""Ed25519 signing keys for access tokens; public keys published as a JWKS.

Rotation: ``rotate`` adds a key, which signs from then on (a running auth picks it up within
``signing_key_reload_seconds``); the older keys stay in the JWKS so the tokens they signed keep
verifying until they expire. ``retire`` removes a key from the JWKS: do it once the access-token
lifetime has passed since the rotation.
"""

import json
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm


@dataclass
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    public_jwk: dict


class KeyRotationError(Exception):
    pass


def _generate() -> tuple[str, str, dict]:
    key = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(8)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return kid, pem, jwk


async def _insert(conn: asyncpg.Connection) -> str:
    kid, pem, jwk = _generate()
    await conn.execute(
        "INSERT INTO signing_keys (kid, private_pem, public_jwk) VALUES ($1, $2, $3::jsonb)", kid, pem, json.dumps(jwk)
    )
    return kid


async def current_key(conn: asyncpg.Connection) -> SigningKey:
    """The newest unretired key; one is created when there is none."""
    row = await conn.fetchrow(
        "SELECT kid, private_pem, public_jwk::text AS jwk FROM signing_keys WHERE retired_at IS NULL"
        " ORDER BY created_at DESC, kid LIMIT 1"
    )
    if row is None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cc-auth-signing-key'))")
            if not await conn.fetchval("SELECT 1 FROM signing_keys WHERE retired_at IS NULL"):
                await _insert(conn)
        return await current_key(conn)
    private = serialization.load_pem_private_key(row["private_pem"].encode(), password=None)
    return SigningKey(row["kid"], private, json.loads(row["jwk"]))


async def public_keys(conn: asyncpg.Connection) -> list[dict]:
    """Every unretired key's public half, newest first."""
    rows = await conn.fetch(
        "SELECT public_jwk::text AS jwk FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid"
    )
    return [json.loads(r["jwk"]) for r in rows]


async def rotate(conn: asyncpg.Connection) -> str:
    """A new key that signs from now on; returns its kid."""
    return await _insert(conn)


async def retire(conn: asyncpg.Connection, kid: str) -> None:
    """Take a key out of the JWKS. The current signing key cannot be retired (rotate first)."""
    current = await current_key(conn)
    if kid == current.kid:
        raise KeyRotationError("this key is the one signing now: rotate first, then retire it")
    done = await conn.fetchval(
        "UPDATE signing_keys SET retired_at = now() WHERE kid = $1 AND retired_at IS NULL RETURNING 1", kid
    )
    if not done:
        raise KeyRotationError(f"no unretired key {kid!r}")


async def list_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at")


def issue_access_token(key: SigningKey, *, login_id: UUID, contact_id: UUID, site_id: UUID, session_id: UUID, settings) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(contact_id),
        "lid": str(login_id),
        "site": str(site_id),
        "sid": str(session_id),
        "iat": now,
        "exp": now + settings.access_token_ttl_seconds,
    }
    return jwt.encode(claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid})
