"""Sequences, their steps, and the contacts going through them."""

from datetime import datetime
from uuid import UUID

import asyncpg


async def create_sequence(conn: asyncpg.Connection, *, sequence_id: UUID, site_id: UUID, name: str, steps: list[tuple[str, int]]) -> bool:
    """False when the site already has a sequence of this name."""
    created = await conn.fetchval(
        "INSERT INTO sequences (id, site_id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        sequence_id,
        site_id,
        name,
    )
    if created:
        await replace_steps(conn, sequence_id, steps)
    return created is not None


async def replace_steps(conn: asyncpg.Connection, sequence_id: UUID, steps: list[tuple[str, int]]) -> None:
    await conn.execute("DELETE FROM sequence_steps WHERE sequence_id = $1", sequence_id)
    await conn.executemany(
        "INSERT INTO sequence_steps (sequence_id, position, template, delay_seconds) VALUES ($1, $2, $3, $4)",
        [(sequence_id, i, template, delay) for i, (template, delay) in enumerate(steps)],
    )


async def rename_sequence(conn: asyncpg.Connection, sequence_id: UUID, name: str) -> bool:
    try:
        await conn.execute("UPDATE sequences SET name = $2 WHERE id = $1", sequence_id, name)
    except asyncpg.UniqueViolationError:
        return False
    return True


async def sequence(conn: asyncpg.Connection, site_id: UUID, sequence_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, site_id, name, created_at FROM sequences WHERE id = $1 AND site_id = $2", sequence_id, site_id
    )


async def sequences_by_name(conn: asyncpg.Connection, site_id: UUID, names: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, name FROM sequences WHERE site_id = $1 AND name = ANY($2::text[])", site_id, names
    )


async def sequences_of_site(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, site_id, name, created_at FROM sequences WHERE site_id = $1 ORDER BY name", site_id)


async def steps_of(conn: asyncpg.Connection, sequence_ids: list[UUID]) -> dict[UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT sequence_id, position, template, delay_seconds FROM sequence_steps"
        " WHERE sequence_id = ANY($1::uuid[]) ORDER BY sequence_id, position",
        sequence_ids,
    )
    found: dict[UUID, list[asyncpg.Record]] = {i: [] for i in sequence_ids}
    for row in rows:
        found[row["sequence_id"]].append(row)
    return found


async def delete_sequence(conn: asyncpg.Connection, site_id: UUID, sequence_id: UUID) -> bool:
    return await conn.fetchval(
        "DELETE FROM sequences WHERE id = $1 AND site_id = $2 RETURNING 1", sequence_id, site_id
    ) is not None


async def enrol(
    conn: asyncpg.Connection, *, enrolment_id: UUID, sequence_id: UUID, site_id: UUID, contact_id: UUID, source: str
) -> asyncpg.Record:
    """Enrol a contact (the first step due after its delay), or return the enrolment they have.

    An ended enrolment (stopped or completed) starts again from the first step.
    """
    return await conn.fetchrow(
        "INSERT INTO enrolments (id, sequence_id, site_id, contact_id, source, status, next_step, next_due_at)"
        " SELECT $1, $2, $3, $4, $5, 'active', 0, now() + make_interval(secs => s.delay_seconds)"
        " FROM sequence_steps s WHERE s.sequence_id = $2 AND s.position = 0"
        " ON CONFLICT (sequence_id, contact_id) DO UPDATE SET status = 'active', next_step = 0,"
        "   next_due_at = now() + make_interval(secs => (SELECT delay_seconds FROM sequence_steps"
        "     WHERE sequence_id = $2 AND position = 0)), enrolled_at = now(), ended_at = NULL, source = EXCLUDED.source"
        "   WHERE enrolments.status <> 'active'"
        " RETURNING *",
        enrolment_id,
        sequence_id,
        site_id,
        contact_id,
        source,
    ) or await conn.fetchrow(
        "SELECT * FROM enrolments WHERE sequence_id = $1 AND contact_id = $2", sequence_id, contact_id
    )


async def enrolments_of(conn: asyncpg.Connection, sequence_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM enrolments WHERE sequence_id = $1 ORDER BY enrolled_at, id", sequence_id
    )


async def unenrol(conn: asyncpg.Connection, sequence_id: UUID, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE enrolments SET status = CASE WHEN status = 'active' THEN 'stopped' ELSE status END,"
        " ended_at = COALESCE(ended_at, now()), next_due_at = NULL"
        " WHERE sequence_id = $1 AND contact_id = $2 RETURNING *",
        sequence_id,
        contact_id,
    )


async def claim_due_enrolments(
    conn: asyncpg.Connection, *, as_of: datetime, site_id: UUID | None, limit: int
) -> list[asyncpg.Record]:
    """Active enrolments whose next step is due, locked: two notify workers never take the same one."""
    return await conn.fetch(
        "SELECT e.id, e.sequence_id, e.site_id, e.contact_id, e.next_step, e.next_due_at, e.enrolled_at FROM enrolments e"
        " WHERE e.status = 'active' AND e.next_due_at <= $1 AND ($2::uuid IS NULL OR e.site_id = $2)"
        " ORDER BY e.next_due_at LIMIT $3 FOR UPDATE SKIP LOCKED",
        as_of,
        site_id,
        limit,
    )


async def advance(conn: asyncpg.Connection, enrolment_id: UUID, *, next_step: int, next_due_at: datetime | None) -> None:
    """Move to the next step, or complete the enrolment when there is none (``next_due_at`` None)."""
    await conn.execute(
        "UPDATE enrolments SET next_step = $2, next_due_at = $3,"
        " status = CASE WHEN $3::timestamptz IS NULL THEN 'completed' ELSE status END,"
        " ended_at = CASE WHEN $3::timestamptz IS NULL THEN now() ELSE ended_at END WHERE id = $1",
        enrolment_id,
        next_step,
        next_due_at,
    )
