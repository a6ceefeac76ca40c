"""Every SQL statement of membership."""

from datetime import datetime
from uuid import UUID

import asyncpg

from services.membership.domain import Level, Site


async def site_by_slug(conn: asyncpg.Connection, slug: str) -> Site | None:
    row = await conn.fetchrow(
        "SELECT id, slug, name, registration_open, default_level_id FROM sites WHERE slug = $1", slug
    )
    return Site(**row) if row else None


async def site_by_id(conn: asyncpg.Connection, site_id: UUID) -> Site | None:
    row = await conn.fetchrow(
        "SELECT id, slug, name, registration_open, default_level_id FROM sites WHERE id = $1", site_id
    )
    return Site(**row) if row else None


async def level(conn: asyncpg.Connection, level_id: UUID) -> Level:
    row = await conn.fetchrow(
        "SELECT l.id, l.name, p.name AS program_name FROM levels l JOIN programs p ON p.id = l.program_id"
        " WHERE l.id = $1",
        level_id,
    )
    return Level(**row)


async def insert_contact(
    conn: asyncpg.Connection, *, contact_id: UUID, site_id: UUID, email: str, first_name: str, last_name: str
) -> bool:
    """False when the email is already registered on the site."""
    row = await conn.fetchval(
        "INSERT INTO contacts (id, site_id, email, first_name, last_name) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (site_id, lower(email)) DO NOTHING RETURNING 1",
        contact_id,
        site_id,
        email,
        first_name,
        last_name,
    )
    return row is not None


async def insert_grant(
    conn: asyncpg.Connection, *, grant_id: UUID, contact_id: UUID, level_id: UUID, source: str, starts_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO grants (id, contact_id, level_id, source, starts_at) VALUES ($1, $2, $3, $4, $5)",
        grant_id,
        contact_id,
        level_id,
        source,
        starts_at,
    )


async def upsert_site(conn: asyncpg.Connection, *, site_id: UUID, slug: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO sites (id, slug, name) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name",
        site_id,
        slug,
        name,
    )


async def upsert_program(conn: asyncpg.Connection, *, program_id: UUID, site_id: UUID, name: str) -> None:
    await conn.execute(
        "INSERT INTO programs (id, site_id, name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        program_id,
        site_id,
        name,
    )


async def upsert_level(conn: asyncpg.Connection, *, level_id: UUID, program_id: UUID, name: str, rank: int) -> None:
    await conn.execute(
        "INSERT INTO levels (id, program_id, name, rank) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        level_id,
        program_id,
        name,
        rank,
    )


async def set_default_level(conn: asyncpg.Connection, site_id: UUID, level_id: UUID) -> None:
    await conn.execute("UPDATE sites SET default_level_id = $2 WHERE id = $1", site_id, level_id)


async def upsert_page(conn: asyncpg.Connection, *, page_id: UUID, site_id: UUID, path: str, title: str, level_ids: list[UUID]) -> None:
    await conn.execute(
        "INSERT INTO pages (id, site_id, path, title) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        page_id,
        site_id,
        path,
        title,
    )
    await conn.executemany(
        "INSERT INTO page_levels (page_id, level_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(page_id, level_id) for level_id in level_ids],
    )


async def put_api_key(conn: asyncpg.Connection, *, key_id: UUID, site_id: UUID, key_hash: bytes, label: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, site_id, key_hash, label) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET key_hash = EXCLUDED.key_hash",
        key_id,
        site_id,
        key_hash,
        label,
    )


async def site_of_api_key(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.id AS site_id, s.slug AS site_slug FROM api_keys k JOIN sites s ON s.id = k.site_id"
        " WHERE k.key_hash = $1",
        key_hash,
    )


async def contact(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, email, first_name, last_name, created_at FROM contacts WHERE id = $1 AND site_id = $2",
        contact_id,
        site_id,
    )


async def memberships(conn: asyncpg.Connection, contact_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT g.id, p.name AS program, l.name AS level, g.source, g.starts_at, g.ends_at"
        " FROM grants g JOIN levels l ON l.id = g.level_id JOIN programs p ON p.id = l.program_id"
        " WHERE g.contact_id = $1 ORDER BY g.starts_at, p.name",
        contact_id,
    )
