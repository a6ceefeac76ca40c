"""Single-use set-password and reset links: a fresh token, stored only as its hash, and the link that
carries it sealed for the event that asks notify to email it (shared/sealing.py)."""

import uuid
from datetime import datetime
from urllib.parse import urlencode
from uuid import UUID

import asyncpg

from services.auth import repository as repo
from services.auth.domain import hash_token, new_token
from shared.sealing import link_context, link_keys_of


def new_password_link(settings, *, login_id: UUID, routing_key: str) -> tuple[bytes, str]:
    """A fresh token's hash (what is stored) and the link that carries the token, sealed for an event
    of ``routing_key`` about this login. The plain token exists only here and, once notify opens the
    link to render it, in the email: never in a table, an event or a log."""
    token = new_token()
    link = f"{settings.public_url.rstrip('/')}/password/set?{urlencode({'token': token})}"
    return hash_token(token), link_keys_of(settings).seal(link, context=link_context(routing_key, login_id))


async def issue_password_link(
    conn: asyncpg.Connection, settings, *, login_id: UUID, purpose: str, expires_at: datetime, routing_key: str
) -> str:
    """Store a new token's hash for the login and return its sealed link (``new_password_link``)."""
    token_hash, link = new_password_link(settings, login_id=login_id, routing_key=routing_key)
    await repo.insert_password_token(
        conn, token_id=uuid.uuid4(), login_id=login_id, token_hash=token_hash, purpose=purpose, expires_at=expires_at
    )
    return link
