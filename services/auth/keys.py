"""Ed25519 signing keys for access tokens; public keys published as a JWKS."""

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


def _generate() -> tuple[str, str, dict]:
    key = Ed25519PrivateKey.generate()
    kid = secrets.token_hex(8)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return kid, pem, jwk


async def load_or_create(conn: asyncpg.Connection) -> tuple[SigningKey, list[dict]]:
    """The newest active key signs; every unretired key's public half verifies."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('cc-auth-signing-key'))")
        rows = await conn.fetch(
            "SELECT kid, private_pem, public_jwk::text AS jwk FROM signing_keys WHERE retired_at IS NULL"
            " ORDER BY created_at DESC"
        )
        if not rows:
            kid, pem, jwk = _generate()
            await conn.execute(
                "INSERT INTO signing_keys (kid, private_pem, public_jwk) VALUES ($1, $2, $3::jsonb)",
                kid,
                pem,
                json.dumps(jwk),
            )
            rows = [{"kid": kid, "private_pem": pem, "jwk": json.dumps(jwk)}]
    newest = rows[0]
    private = serialization.load_pem_private_key(newest["private_pem"].encode(), password=None)
    current = SigningKey(newest["kid"], private, json.loads(newest["jwk"]))
    return current, [json.loads(r["jwk"]) for r in rows]


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
