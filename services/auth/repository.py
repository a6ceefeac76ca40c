"""Every SQL statement of auth."""

from datetime import datetime
from uuid import UUID

import asyncpg


async def upsert_site(conn: asyncpg.Connection, *, site_id: UUID, slug: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO sites (id, slug, name) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name",
        site_id,
        slug,
        name,
    )


async def login_of_contact(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM logins WHERE site_id = $1 AND contact_id = $2", site_id, contact_id)


async def insert_login(
    conn: asyncpg.Connection, *, login_id: UUID, site_id: UUID, contact_id: UUID, username: str, email: str, first_name: str
) -> bool:
    """False when the username is taken on the site."""
    row = await conn.fetchval(
        "INSERT INTO logins (id, site_id, contact_id, username, email, first_name)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
        login_id,
        site_id,
        contact_id,
        username,
        email,
        first_name,
    )
    return row is not None


async def insert_password_token(
    conn: asyncpg.Connection, *, token_id: UUID, login_id: UUID, token_hash: bytes, purpose: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO password_tokens (id, login_id, token_hash, purpose, expires_at) VALUES ($1, $2, $3, $4, $5)",
        token_id,
        login_id,
        token_hash,
        purpose,
        expires_at,
    )


async def password_token(conn: asyncpg.Connection, token_hash: bytes, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT t.id, t.login_id, t.purpose, t.expires_at, t.used_at, t.revoked_at, l.username, s.slug AS site_slug"
        " FROM password_tokens t JOIN logins l ON l.id = t.login_id JOIN sites s ON s.id = l.site_id"
        " WHERE t.token_hash = $1" + (" FOR UPDATE OF t" if for_update else ""),
        token_hash,
    )


async def set_password(conn: asyncpg.Connection, login_id: UUID, password_hash: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE logins SET password_hash = $2, password_set_at = $3 WHERE id = $1", login_id, password_hash, now
    )


async def use_token_and_revoke_others(conn: asyncpg.Connection, token_id: UUID, login_id: UUID, now: datetime) -> None:
    """The link is spent; every other open link of the login dies with it."""
    await conn.execute("UPDATE password_tokens SET used_at = $2 WHERE id = $1", token_id, now)
    await conn.execute(
        "UPDATE password_tokens SET revoked_at = $3"
        " WHERE login_id = $1 AND id <> $2 AND used_at IS NULL AND revoked_at IS NULL",
        login_id,
        token_id,
        now,
    )


async def login_by_username(conn: asyncpg.Connection, site_slug: str, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT l.* FROM logins l JOIN sites s ON s.id = l.site_id WHERE s.slug = $1 AND lower(l.username) = lower($2)",
        site_slug,
        username,
    )


async def update_password_hash(conn: asyncpg.Connection, login_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE logins SET password_hash = $2 WHERE id = $1", login_id, password_hash)


async def insert_session(
    conn: asyncpg.Connection, *, session_id: UUID, login_id: UUID, family_id: UUID, refresh_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sessions (id, login_id, family_id, refresh_hash, expires_at) VALUES ($1, $2, $3, $4, $5)",
        session_id,
        login_id,
        family_id,
        refresh_hash,
        expires_at,
    )
