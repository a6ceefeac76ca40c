"""Every SQL statement of auth."""

from datetime import datetime
from uuid import UUID

import asyncpg


# Every grant names its site: when the row already says so, neither written nor locked (ON CONFLICT
# DO UPDATE would lock it, and every registration's handler transaction would wait for the previous
# one's commit on that one row).
_UPSERT_SITE = (
    "INSERT INTO sites (id, slug, name) SELECT $1::uuid, $2::text, $3::text"
    " WHERE NOT EXISTS (SELECT 1 FROM sites WHERE id = $1 AND slug = $2 AND name = $3)"
    " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name"
)


async def name_site_and_find_login(
    conn: asyncpg.Connection, *, site_id: UUID, slug: str, name: str, contact_id: UUID
) -> asyncpg.Record | None:
    """The site as the event names it (written only when it says something new), and the contact's
    login on it, in one round trip (a grant's handler needs both)."""
    return await conn.fetchrow(
        f"WITH site AS ({_UPSERT_SITE}) SELECT * FROM logins WHERE site_id = $1 AND contact_id = $4",
        site_id,
        slug,
        name,
        contact_id,
    )


async def login_of_contact(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM logins WHERE site_id = $1 AND contact_id = $2", site_id, contact_id)


async def insert_login(
    conn: asyncpg.Connection,
    *,
    login_id: UUID,
    site_id: UUID,
    contact_id: UUID,
    username: str,
    email: str,
    first_name: str,
    program_name: str,
    level_name: str,
    token_id: UUID,
    token_hash: bytes,
    token_expires_at: datetime,
) -> bool:
    """A new login with its set-password token, in one statement; False (and neither written) when
    the username is taken on the site."""
    row = await conn.fetchval(
        "WITH login AS ("
        " INSERT INTO logins (id, site_id, contact_id, username, email, first_name, program_name, level_name)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id"
        "), token AS ("
        " INSERT INTO password_tokens (id, login_id, token_hash, purpose, expires_at)"
        " SELECT $9, id, $10, 'set_password', $11 FROM login"
        ") SELECT count(*) FROM login",
        login_id,
        site_id,
        contact_id,
        username,
        email,
        first_name,
        program_name,
        level_name,
        token_id,
        token_hash,
        token_expires_at,
    )
    return row == 1


async def remember_grant(conn: asyncpg.Connection, login_id: UUID, *, program_name: str, level_name: str) -> None:
    """The latest level granted: what a resent welcome email names."""
    await conn.execute(
        "UPDATE logins SET program_name = $2, level_name = $3 WHERE id = $1", login_id, program_name, level_name
    )


async def login_in_site(conn: asyncpg.Connection, login_id: UUID, site_id: UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    """A login with its site's slug and name."""
    return await conn.fetchrow(
        "SELECT l.*, s.slug AS site_slug, s.name AS site_name FROM logins l JOIN sites s ON s.id = l.site_id"
        " WHERE l.id = $1 AND l.site_id = $2" + (" FOR UPDATE OF l" if for_update else ""),
        login_id,
        site_id,
    )


async def login_by_email(conn: asyncpg.Connection, site_slug: str, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT l.*, s.slug AS site_slug, s.name AS site_name FROM logins l JOIN sites s ON s.id = l.site_id"
        " WHERE s.slug = $1 AND lower(l.email) = lower($2) ORDER BY l.created_at LIMIT 1",
        site_slug,
        email,
    )


async def site(conn: asyncpg.Connection, site_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM sites WHERE id = $1", site_id)


async def change_username(conn: asyncpg.Connection, login_id: UUID, username: str) -> bool:
    """False when another login of the site has it (any case)."""
    try:
        async with conn.transaction():
            await conn.execute("UPDATE logins SET username = $2 WHERE id = $1", login_id, username)
    except asyncpg.UniqueViolationError:
        return False
    return True


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
        "SELECT t.id, t.login_id, t.purpose, t.expires_at, t.used_at, t.revoked_at, l.username, l.email,"
        " l.first_name, l.contact_id, l.site_id, l.password_hash IS NOT NULL AS had_password,"
        " s.slug AS site_slug, s.name AS site_name"
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


async def revoke_open_tokens(conn: asyncpg.Connection, login_id: UUID, now: datetime, purpose: str | None = None) -> None:
    """Every link of the login not yet used dies (of one purpose, or all)."""
    await conn.execute(
        "UPDATE password_tokens SET revoked_at = $2"
        " WHERE login_id = $1 AND used_at IS NULL AND revoked_at IS NULL AND ($3::text IS NULL OR purpose = $3)",
        login_id,
        now,
        purpose,
    )


async def count_tokens_since(conn: asyncpg.Connection, login_id: UUID, purpose: str, since: datetime) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM password_tokens WHERE login_id = $1 AND purpose = $2 AND created_at >= $3",
        login_id,
        purpose,
        since,
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


async def refresh_session(conn: asyncpg.Connection, refresh_hash: bytes) -> asyncpg.Record | None:
    """The refresh token's row and its login, locked for the rotation."""
    return await conn.fetchrow(
        "SELECT s.*, l.contact_id, l.site_id FROM sessions s JOIN logins l ON l.id = s.login_id"
        " WHERE s.refresh_hash = $1 FOR UPDATE OF s",
        refresh_hash,
    )


async def mark_rotated(conn: asyncpg.Connection, session_row_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET rotated_at = $2 WHERE id = $1", session_row_id, now)


async def revoke_family(conn: asyncpg.Connection, family_id: UUID, login_id: UUID, now: datetime, reason: str) -> int:
    """Revoke a session: every refresh token of its family."""
    result = await conn.execute(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4"
        " WHERE family_id = $1 AND login_id = $2 AND revoked_at IS NULL",
        family_id,
        login_id,
        now,
        reason,
    )
    return int(result.split()[-1])


async def revoke_sessions_of_login(
    conn: asyncpg.Connection, login_id: UUID, now: datetime, reason: str, *, keep_family: UUID | None = None
) -> int:
    """Revoke every session of the login, except ``keep_family`` when given."""
    result = await conn.execute(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3"
        " WHERE login_id = $1 AND revoked_at IS NULL AND ($4::uuid IS NULL OR family_id <> $4)",
        login_id,
        now,
        reason,
        keep_family,
    )
    return int(result.split()[-1])


async def sessions_revoked_since(conn: asyncpg.Connection, since: datetime) -> tuple[datetime, list[asyncpg.Record]]:
    """(the database's now, the session families revoked at or after ``since``)."""
    now = await conn.fetchval("SELECT now()")
    rows = await conn.fetch(
        "SELECT family_id, max(revoked_at) AS revoked_at FROM sessions WHERE revoked_at >= $1 GROUP BY family_id",
        since,
    )
    return now, rows


# Throttling of failed logins.


async def locked_until(conn: asyncpg.Connection, keys: list[str]) -> datetime | None:
    """The latest lock still running on any of the keys."""
    return await conn.fetchval(
        "SELECT max(locked_until) FROM login_throttle WHERE key = ANY($1::text[]) AND locked_until > now()", keys
    )


async def count_failure(conn: asyncpg.Connection, key: str, *, window_seconds: int) -> asyncpg.Record:
    """Count a failure: a new count once the window or the last lock has passed. → failures, locks, locked_until."""
    return await conn.fetchrow(
        "INSERT INTO login_throttle AS t (key, failures, last_failure_at) VALUES ($1, 1, now())"
        " ON CONFLICT (key) DO UPDATE SET"
        "  failures = CASE WHEN t.last_failure_at < now() - make_interval(secs => $2)"
        "                   OR t.locked_until <= now() THEN 1 ELSE t.failures + 1 END,"
        "  locked_until = CASE WHEN t.locked_until <= now() THEN NULL ELSE t.locked_until END,"
        "  last_failure_at = now()"
        " RETURNING failures, locks, locked_until",
        key,
        float(window_seconds),
    )


async def count_state(conn: asyncpg.Connection, key: str) -> asyncpg.Record:
    return await conn.fetchrow("SELECT failures, locks, locked_until FROM login_throttle WHERE key = $1", key)


async def uncount_failure(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("UPDATE login_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1", key)


async def lock(conn: asyncpg.Connection, key: str, seconds: int) -> datetime:
    return await conn.fetchval(
        "UPDATE login_throttle SET locked_until = now() + make_interval(secs => $2), locks = locks + 1"
        " WHERE key = $1 RETURNING locked_until",
        key,
        float(seconds),
    )


async def forget_old_failures(conn: asyncpg.Connection, window_seconds: int) -> int:
    """Counts nobody needs any more: past the window and unlocked (a key that was locked is kept a day,
    so its next lock still lasts longer)."""
    result = await conn.execute(
        "DELETE FROM login_throttle WHERE (locked_until IS NULL OR locked_until < now())"
        " AND last_failure_at < now() - CASE WHEN locks > 0 THEN interval '1 day' ELSE make_interval(secs => $1) END",
        float(window_seconds),
    )
    return int(result.split()[-1])


async def clear_throttle(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute("DELETE FROM login_throttle WHERE key = $1", key)


# --- staff (the admin console's accounts) ------------------------------------------------------


async def upsert_staff(
    conn: asyncpg.Connection, *, staff_id: UUID, site_id: UUID, email: str, role: str, password_hash: str
) -> asyncpg.Record:
    """A new staff account, or a new role and password for the site's account with this email."""
    return await conn.fetchrow(
        "INSERT INTO staff (id, site_id, email, role, password_hash) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (site_id, lower(email)) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash"
        " RETURNING id, site_id, email, role, (xmax = 0) AS created",
        staff_id, site_id, email, role, password_hash,
    )


async def staff_by_email(conn: asyncpg.Connection, site_id: UUID, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM staff WHERE site_id = $1 AND lower(email) = lower($2)", site_id, email)


async def update_staff_password_hash(conn: asyncpg.Connection, staff_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE staff SET password_hash = $2 WHERE id = $1", staff_id, password_hash)


async def insert_staff_session(
    conn: asyncpg.Connection, *, session_id: UUID, staff_id: UUID, token_hash: bytes, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO staff_sessions (id, staff_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
        session_id, staff_id, token_hash, expires_at,
    )


async def staff_of_session(conn: asyncpg.Connection, token_hash: bytes, now: datetime) -> asyncpg.Record | None:
    """The staff member of a live session (not revoked, not expired)."""
    return await conn.fetchrow(
        "SELECT st.id, st.site_id, st.email, st.role, se.id AS session_id, se.expires_at"
        " FROM staff_sessions se JOIN staff st ON st.id = se.staff_id"
        " WHERE se.token_hash = $1 AND se.revoked_at IS NULL AND se.expires_at > $2",
        token_hash, now,
    )


async def revoke_staff_session(conn: asyncpg.Connection, token_hash: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE staff_sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL", token_hash, now
    )


async def revoke_sessions_of_staff(conn: asyncpg.Connection, staff_id: UUID) -> int:
    """Every open session of the staff member ends (a new password was set)."""
    result = await conn.execute(
        "UPDATE staff_sessions SET revoked_at = now() WHERE staff_id = $1 AND revoked_at IS NULL", staff_id
    )
    return int(result.split()[-1])
