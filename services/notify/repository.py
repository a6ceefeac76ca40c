"""Every SQL statement of notify."""

from uuid import UUID

import asyncpg


async def upsert_contact(conn: asyncpg.Connection, *, contact_id: UUID, site_id: UUID, email: str, first_name: str, last_name: str) -> None:
    await conn.execute(
        "INSERT INTO contacts (id, site_id, email, first_name, last_name) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, first_name = EXCLUDED.first_name,"
        " last_name = EXCLUDED.last_name",
        contact_id,
        site_id,
        email,
        first_name,
        last_name,
    )


async def insert_message(
    conn: asyncpg.Connection,
    *,
    message_id: UUID,
    event_id: UUID,
    template: str,
    site_id: UUID | None,
    contact_id: UUID | None,
    correlation_id: str,
    to_address: str,
    subject: str,
    status: str,
    reason: str | None = None,
    mime: bytes | None = None,
) -> bool:
    """False when this event already produced this message (a redelivery)."""
    inserted = await conn.fetchval(
        "INSERT INTO messages (id, event_id, template, site_id, contact_id, correlation_id, to_address, subject,"
        " status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING 1",
        message_id,
        event_id,
        template,
        site_id,
        contact_id,
        correlation_id,
        to_address,
        subject,
        status,
        reason,
    )
    if inserted and mime is not None:
        await conn.execute("INSERT INTO outgoing (message_id, mime) VALUES ($1, $2)", message_id, mime)
    return inserted is not None


async def claim_due(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT m.id, m.to_address, m.attempts, m.correlation_id, o.mime FROM messages m JOIN outgoing o ON o.message_id = m.id"
        " WHERE m.status = 'queued' AND m.next_attempt_at <= now()"
        " ORDER BY m.next_attempt_at LIMIT $1 FOR UPDATE OF m SKIP LOCKED",
        limit,
    )


async def mark_sent(conn: asyncpg.Connection, message_id: UUID) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'sent', sent_at = now(), attempts = attempts + 1, reason = NULL WHERE id = $1",
        message_id,
    )
    await conn.execute("DELETE FROM outgoing WHERE message_id = $1", message_id)


async def mark_held(conn: asyncpg.Connection, message_id: UUID, reason: str) -> None:
    await conn.execute(
        "UPDATE messages SET status = 'held', reason = $2, attempts = attempts + 1 WHERE id = $1", message_id, reason
    )
    await conn.execute("DELETE FROM outgoing WHERE message_id = $1", message_id)


async def postpone(conn: asyncpg.Connection, message_id: UUID, reason: str, delay_seconds: float) -> None:
    await conn.execute(
        "UPDATE messages SET attempts = attempts + 1, reason = $2,"
        " next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
        message_id,
        reason,
        delay_seconds,
    )


async def messages_of_contact(conn: asyncpg.Connection, contact_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, template, to_address, subject, status, reason, attempts, created_at, sent_at"
        " FROM messages WHERE contact_id = $1 ORDER BY created_at DESC",
        contact_id,
    )
