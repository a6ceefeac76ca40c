"""Single-use set-password and reset links: a fresh token, stored only as its hash."""

import uuid
from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from services.auth import repository as repo
from services.auth.domain import hash_token, new_token


async def issue_password_link(
    conn: asyncpg.Connection, settings, *, login_id: UUID, purpose: str, expires_at: datetime
) -> str:
    """Store a new token's hash for the login and return the link that carries the token (the only
    place the token itself exists: it goes into the event for the email, never into a table)."""
    token = new_token()
    await repo.insert_password_token(
        conn, token_id=uuid.uuid4(), login_id=login_id, token_hash=hash_token(token), purpose=purpose,
        expires_at=expires_at,
    )
    return f"{settings.public_url.rstrip('/')}/password/set?{urlencode({'token': token})}"
