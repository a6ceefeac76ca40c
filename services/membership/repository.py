"""Every SQL statement of membership."""

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.membership.access import GrantView, PageLevel
from services.membership.domain import FieldDefinition, Level, Site

SITE_COLUMNS = (
    "id, slug, name, registration_open, default_level_id, customer_center_enabled, post_login_redirect,"
    " registration_tags, registration_sequences, embed_origins, cancellation_fields, language, theme"
)
_SITE_COLUMNS_OF_S = ", ".join(f"s.{column.strip()}" for column in SITE_COLUMNS.split(","))
CONTACT_COLUMNS = "id, site_id, email, first_name, last_name, tags, fields, created_at, updated_at"


def _site(row: asyncpg.Record | dict | None) -> Site | None:
    if row is None:
        return None
    data = dict(row)
    data["cancellation_fields"] = json.loads(data["cancellation_fields"])
    data["theme"] = json.loads(data["theme"])
    return Site(**data)


def _contact(row: asyncpg.Record | None) -> dict | None:
    if row is None:
        return None
    data = dict(row)
    data["fields"] = json.loads(data["fields"])
    return data


# --- sites -------------------------------------------------------------------------------------


async def site_by_slug(conn: asyncpg.Connection, slug: str) -> Site | None:
    return _site(await conn.fetchrow(f"SELECT {SITE_COLUMNS} FROM sites WHERE slug = $1", slug))


async def site_and_default_level(conn: asyncpg.Connection, slug: str) -> tuple[Site, Level | None] | None:
    """The site and the level a registration gets (None when it has none), in one round trip."""
    row = await conn.fetchrow(
        f"SELECT {_SITE_COLUMNS_OF_S}, l.name AS level_name, p.name AS level_program_name"
        " FROM sites s LEFT JOIN levels l ON l.id = s.default_level_id LEFT JOIN programs p ON p.id = l.program_id"
        " WHERE s.slug = $1",
        slug,
    )
    if row is None:
        return None
    data = dict(row)
    level_name, program_name = data.pop("level_name"), data.pop("level_program_name")
    site = _site(data)
    level = Level(id=site.default_level_id, name=level_name, program_name=program_name) if level_name is not None else None
    return site, level


async def site_by_id(conn: asyncpg.Connection, site_id: UUID) -> Site | None:
    return _site(await conn.fetchrow(f"SELECT {SITE_COLUMNS} FROM sites WHERE id = $1", site_id))


async def update_site(conn: asyncpg.Connection, site_id: UUID, changes: dict[str, Any]) -> Site:
    """``changes`` maps column names (from the settings schema, never from a client) to values."""
    allowed = {
        "customer_center_enabled",
        "post_login_redirect",
        "default_level_id",
        "registration_tags",
        "registration_sequences",
        "embed_origins",
        "cancellation_fields",
        "registration_open",
        "language",
        "theme",
    }
    assert set(changes) <= allowed, set(changes) - allowed
    sets, args = [], [site_id]
    for column, value in changes.items():
        as_json = column in ("cancellation_fields", "theme")
        args.append(json.dumps(value) if as_json else value)
        sets.append(f"{column} = ${len(args)}" + ("::jsonb" if as_json else ""))
    if sets:
        await conn.execute(f"UPDATE sites SET {', '.join(sets)} WHERE id = $1", *args)
    return await site_by_id(conn, site_id)


async def upsert_site(conn: asyncpg.Connection, *, site_id: UUID, slug: str, name: str) -> None:
    await conn.execute(
        "INSERT INTO sites (id, slug, name) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET slug = EXCLUDED.slug, name = EXCLUDED.name",
        site_id,
        slug,
        name,
    )


async def set_default_level(conn: asyncpg.Connection, site_id: UUID, level_id: UUID) -> None:
    await conn.execute("UPDATE sites SET default_level_id = $2 WHERE id = $1", site_id, level_id)


async def put_api_key(conn: asyncpg.Connection, *, key_id: UUID, site_id: UUID, key_hash: bytes, label: str) -> None:
    await conn.execute(
        "INSERT INTO api_keys (id, site_id, key_hash, label) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET key_hash = EXCLUDED.key_hash",
        key_id,
        site_id,
        key_hash,
        label,
    )


async def api_keys_of_site(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, label, created_at FROM api_keys WHERE site_id = $1 ORDER BY created_at, id", site_id
    )


async def api_key(conn: asyncpg.Connection, site_id: UUID, key_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, label, created_at FROM api_keys WHERE id = $1 AND site_id = $2", key_id, site_id)


async def delete_api_key(conn: asyncpg.Connection, site_id: UUID, key_id: UUID) -> bool:
    return await conn.fetchval(
        "DELETE FROM api_keys WHERE id = $1 AND site_id = $2 RETURNING true", key_id, site_id
    ) is not None


async def site_of_api_key(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.id AS site_id, s.slug AS site_slug, k.id AS key_id, k.label FROM api_keys k"
        " JOIN sites s ON s.id = k.site_id"
        " WHERE k.key_hash = $1",
        key_hash,
    )


# --- programs and levels -----------------------------------------------------------------------


async def upsert_program(conn: asyncpg.Connection, *, program_id: UUID, site_id: UUID, name: str) -> bool:
    """False when the site already has a program by that name (or this id exists)."""
    row = await conn.fetchval(
        "INSERT INTO programs (id, site_id, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1",
        program_id,
        site_id,
        name,
    )
    return row is not None


async def programs(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT p.id, p.name, p.created_at,"
        " coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'rank', l.rank)"
        "   ORDER BY l.rank, l.name) FILTER (WHERE l.id IS NOT NULL), '[]')::text AS levels"
        " FROM programs p LEFT JOIN levels l ON l.program_id = p.id"
        " WHERE p.site_id = $1 GROUP BY p.id ORDER BY p.created_at, p.name",
        site_id,
    )


async def program_of_site(conn: asyncpg.Connection, site_id: UUID, program_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, name FROM programs WHERE id = $1 AND site_id = $2", program_id, site_id)


async def upsert_level(conn: asyncpg.Connection, *, level_id: UUID, program_id: UUID, name: str, rank: int) -> bool:
    row = await conn.fetchval(
        "INSERT INTO levels (id, program_id, name, rank) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1",
        level_id,
        program_id,
        name,
        rank,
    )
    return row is not None


async def next_rank(conn: asyncpg.Connection, program_id: UUID) -> int:
    return await conn.fetchval("SELECT coalesce(max(rank) + 10, 0) FROM levels WHERE program_id = $1", program_id)


async def levels(conn: asyncpg.Connection, site_id: UUID, program_id: UUID | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT l.id, l.name, l.rank, l.program_id, p.name AS program FROM levels l"
        " JOIN programs p ON p.id = l.program_id WHERE p.site_id = $1 AND ($2::uuid IS NULL OR p.id = $2)"
        " ORDER BY p.created_at, p.name, l.rank, l.name",
        site_id,
        program_id,
    )


async def site_levels(conn: asyncpg.Connection, site_id: UUID) -> list[Level]:
    return [Level(id=r["id"], name=r["name"], program_name=r["program"]) for r in await levels(conn, site_id)]


async def level(conn: asyncpg.Connection, level_id: UUID) -> Level:
    row = await conn.fetchrow(
        "SELECT l.id, l.name, p.name AS program_name FROM levels l JOIN programs p ON p.id = l.program_id"
        " WHERE l.id = $1",
        level_id,
    )
    return Level(**row)


async def level_of_site(conn: asyncpg.Connection, site_id: UUID, level_id: UUID) -> Level | None:
    row = await conn.fetchrow(
        "SELECT l.id, l.name, p.name AS program_name FROM levels l JOIN programs p ON p.id = l.program_id"
        " WHERE l.id = $1 AND p.site_id = $2",
        level_id,
        site_id,
    )
    return Level(**row) if row else None


async def count_levels_of_site(conn: asyncpg.Connection, site_id: UUID, level_ids: list[UUID]) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM levels l JOIN programs p ON p.id = l.program_id"
        " WHERE l.id = ANY($1::uuid[]) AND p.site_id = $2",
        level_ids,
        site_id,
    )


# --- pages -------------------------------------------------------------------------------------


async def upsert_page(
    conn: asyncpg.Connection, *, page_id: UUID, site_id: UUID, path: str, title: str, level_ids: list[UUID]
) -> bool:
    """False when the site already has a page at that path."""
    row = await conn.fetchval(
        "INSERT INTO pages (id, site_id, path, title) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1",
        page_id,
        site_id,
        path,
        title,
    )
    if row is not None or await conn.fetchval("SELECT 1 FROM pages WHERE id = $1", page_id):
        await conn.executemany(
            "INSERT INTO page_levels (page_id, level_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [(page_id, level_id) for level_id in level_ids],
        )
    return row is not None


async def page_of_site(conn: asyncpg.Connection, site_id: UUID, page_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, path, title FROM pages WHERE id = $1 AND site_id = $2", page_id, site_id)


async def update_page(conn: asyncpg.Connection, page_id: UUID, *, title: str | None, level_ids: list[UUID] | None) -> None:
    if title is not None:
        await conn.execute("UPDATE pages SET title = $2 WHERE id = $1", page_id, title)
    if level_ids is not None:
        await conn.execute("DELETE FROM page_levels WHERE page_id = $1", page_id)
        await conn.executemany(
            "INSERT INTO page_levels (page_id, level_id) VALUES ($1, $2)", [(page_id, lid) for lid in level_ids]
        )


async def pages(conn: asyncpg.Connection, site_id: UUID, page_id: UUID | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT pg.id, pg.path, pg.title,"
        " coalesce(json_agg(json_build_object('id', l.id, 'name', l.name, 'program', p.name)"
        "   ORDER BY p.name, l.rank) FILTER (WHERE l.id IS NOT NULL), '[]')::text AS levels"
        " FROM pages pg LEFT JOIN page_levels pl ON pl.page_id = pg.id LEFT JOIN levels l ON l.id = pl.level_id"
        " LEFT JOIN programs p ON p.id = l.program_id"
        " WHERE pg.site_id = $1 AND ($2::uuid IS NULL OR pg.id = $2) GROUP BY pg.id ORDER BY pg.path",
        site_id,
        page_id,
    )


async def page_levels(conn: asyncpg.Connection, site_id: UUID, path: str) -> list[PageLevel] | None:
    """The levels that open a page; None when the path is not a protected page of the site."""
    rows = await conn.fetch(
        "SELECT l.id AS level_id, l.name AS level_name, p.name AS program_name"
        " FROM pages pg JOIN page_levels pl ON pl.page_id = pg.id JOIN levels l ON l.id = pl.level_id"
        " JOIN programs p ON p.id = l.program_id WHERE pg.site_id = $1 AND pg.path = $2 ORDER BY p.name, l.rank",
        site_id,
        path,
    )
    return [PageLevel(**r) for r in rows] or None


CAN_OPEN = (
    "SELECT EXISTS (SELECT 1 FROM pages pg JOIN page_levels pl ON pl.page_id = pg.id"
    "               WHERE pg.site_id = $1 AND pg.path = $3) AS protected,"
    "       EXISTS (SELECT 1 FROM pages pg JOIN page_levels pl ON pl.page_id = pg.id"
    "               JOIN grants g ON g.contact_id = $2 AND g.level_id = pl.level_id"
    "               WHERE pg.site_id = $1 AND pg.path = $3"
    "                 AND g.starts_at <= $4 AND (g.ends_at IS NULL OR g.ends_at > $4)) AS allowed"
)


async def can_open(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID, path: str, as_of: datetime) -> asyncpg.Record:
    """One query on indexes per protected page view: (protected, allowed)."""
    return await conn.fetchrow(CAN_OPEN, site_id, contact_id, path, as_of)


# --- custom field definitions ------------------------------------------------------------------


async def field_definitions(conn: asyncpg.Connection, site_id: UUID) -> dict[str, FieldDefinition]:
    rows = await conn.fetch("SELECT name, type, choices FROM field_definitions WHERE site_id = $1 ORDER BY name", site_id)
    return {r["name"]: FieldDefinition(name=r["name"], type=r["type"], choices=list(r["choices"])) for r in rows}


async def insert_field_definition(
    conn: asyncpg.Connection, *, field_id: UUID, site_id: UUID, name: str, type: str, choices: list[str]
) -> bool:
    row = await conn.fetchval(
        "INSERT INTO field_definitions (id, site_id, name, type, choices) VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT DO NOTHING RETURNING 1",
        field_id,
        site_id,
        name,
        type,
        choices,
    )
    return row is not None


# --- contacts ----------------------------------------------------------------------------------


async def insert_contact(
    conn: asyncpg.Connection,
    *,
    contact_id: UUID,
    site_id: UUID,
    email: str,
    first_name: str,
    last_name: str,
    tags: list[str] | None = None,
    fields: dict[str, Any] | None = None,
) -> dict | None:
    """The new contact as ``contact`` reads it; None when the email is already registered on the site."""
    return _contact(
        await conn.fetchrow(
            "INSERT INTO contacts (id, site_id, email, first_name, last_name, tags, fields)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
            f" ON CONFLICT (site_id, lower(email)) DO NOTHING RETURNING {CONTACT_COLUMNS}",
            contact_id,
            site_id,
            email,
            first_name,
            last_name,
            tags or [],
            json.dumps({k: v for k, v in (fields or {}).items() if v is not None}),
        )
    )


# A registration in one statement, so in one round trip and atomic without BEGIN and COMMIT: the
# contact, its grant and its events ($10-$15: two outbox rows), all or (the email is already
# registered on the site) none. The data-modifying CTEs run whether or not the query reads them.
_REGISTER = (
    "WITH c AS (INSERT INTO contacts (id, site_id, email, first_name, last_name, tags, fields)"
    " VALUES ($1, $2, $3, $4, $5, $6, '{}'::jsonb) ON CONFLICT (site_id, lower(email)) DO NOTHING RETURNING id),"
    " g AS (INSERT INTO grants (id, contact_id, level_id, source, starts_at) SELECT $7, id, $8, 'registration', $9 FROM c),"
    " o AS (INSERT INTO outbox (event_id, routing_key, envelope) SELECT e.* FROM (VALUES ($10::uuid, $11::text,"
    " $12::json), ($13::uuid, $14::text, $15::json)) AS e (event_id, routing_key, envelope) WHERE EXISTS (SELECT FROM c))"
    " SELECT count(*) FROM c"
)


async def register_contact(
    conn: asyncpg.Connection,
    *,
    contact_id: UUID,
    site_id: UUID,
    email: str,
    first_name: str,
    last_name: str,
    tags: list[str],
    grant_id: UUID,
    level_id: UUID,
    starts_at: datetime,
    events: list[tuple[UUID, str, str]],
) -> bool:
    """The contact, its registration grant and its two events (``envelopes_json``) in one statement
    on ``conn`` outside a transaction; False (nothing written) when the email is already registered."""
    (first, second) = events
    return bool(await conn.fetchval(
        _REGISTER, contact_id, site_id, email, first_name, last_name, tags, grant_id, level_id, starts_at,
        *first, *second,
    ))


async def contact_by_email(conn: asyncpg.Connection, site_id: UUID, email: str) -> dict | None:
    return _contact(
        await conn.fetchrow(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE site_id = $1 AND lower(email) = lower($2)", site_id, email
        )
    )


async def contact(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID, *, for_update: bool = False) -> dict | None:
    return _contact(
        await conn.fetchrow(
            f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = $1 AND site_id = $2"
            + (" FOR UPDATE" if for_update else ""),
            contact_id,
            site_id,
        )
    )


async def search_contacts(
    conn: asyncpg.Connection, site_id: UUID, *, q: str | None, tag: str | None, limit: int, offset: int
) -> tuple[list[dict], int]:
    """Newest first; ``q`` matches the email or the name, ``tag`` one tag."""
    pattern = None if not q else "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    where = (
        "site_id = $1 AND ($2::text IS NULL OR email ILIKE $2 OR (first_name || ' ' || last_name) ILIKE $2)"
        " AND ($3::text IS NULL OR $3 = ANY(tags))"
    )
    rows = await conn.fetch(
        f"SELECT {CONTACT_COLUMNS} FROM contacts WHERE {where} ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",
        site_id,
        pattern,
        tag,
        limit,
        offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM contacts WHERE {where}", site_id, pattern, tag)
    return [_contact(r) for r in rows], total


async def update_contact(conn: asyncpg.Connection, contact_id: UUID, changes: dict[str, Any]) -> None:
    """``changes``: first_name, last_name, email, tags (replaced), fields (merged; None removes one)."""
    sets, args = ["updated_at = now()"], [contact_id]
    for column in ("first_name", "last_name", "email", "tags"):
        if column in changes:
            args.append(changes[column])
            sets.append(f"{column} = ${len(args)}")
    if "fields" in changes:
        args.append(json.dumps({k: v for k, v in changes["fields"].items() if v is not None}))
        args.append([k for k, v in changes["fields"].items() if v is None])
        sets.append(f"fields = (fields - ${len(args)}::text[]) || ${len(args) - 1}::jsonb")
    await conn.execute(f"UPDATE contacts SET {', '.join(sets)} WHERE id = $1", *args)


async def email_taken(conn: asyncpg.Connection, site_id: UUID, email: str, other_than: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM contacts WHERE site_id = $1 AND lower(email) = lower($2) AND id <> $3", site_id, email, other_than
        )
    )


# --- grants ------------------------------------------------------------------------------------


async def insert_grant(
    conn: asyncpg.Connection,
    *,
    grant_id: UUID,
    contact_id: UUID,
    level_id: UUID,
    source: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    rule_id: UUID | None = None,
    order_id: UUID | None = None,
) -> bool:
    """False when this rule already granted its level for this order."""
    row = await conn.fetchval(
        "INSERT INTO grants (id, contact_id, level_id, source, starts_at, ends_at, rule_id, order_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (rule_id, order_id) WHERE rule_id IS NOT NULL DO NOTHING RETURNING 1",
        grant_id,
        contact_id,
        level_id,
        source,
        starts_at,
        ends_at,
        rule_id,
        order_id,
    )
    return row is not None


GRANT_VIEW = (
    "SELECT g.id, g.level_id, l.name AS level_name, p.name AS program_name, g.source, g.starts_at, g.ends_at,"
    " g.ended_reason FROM grants g JOIN levels l ON l.id = g.level_id JOIN programs p ON p.id = l.program_id"
)


async def grants_of_contact(conn: asyncpg.Connection, contact_id: UUID) -> list[GrantView]:
    rows = await conn.fetch(GRANT_VIEW + " WHERE g.contact_id = $1 ORDER BY g.starts_at, p.name, l.rank", contact_id)
    return [GrantView(**r) for r in rows]


async def grant_of_contact(conn: asyncpg.Connection, contact_id: UUID, grant_id: UUID) -> GrantView | None:
    row = await conn.fetchrow(GRANT_VIEW + " WHERE g.contact_id = $1 AND g.id = $2 FOR UPDATE OF g", contact_id, grant_id)
    return GrantView(**row) if row else None


async def grants_of_order(conn: asyncpg.Connection, contact_id: UUID, order_id: UUID) -> list[GrantView]:
    rows = await conn.fetch(
        GRANT_VIEW + " WHERE g.contact_id = $1 AND g.order_id = $2 ORDER BY g.starts_at FOR UPDATE OF g",
        contact_id,
        order_id,
    )
    return [GrantView(**r) for r in rows]


async def end_grant(conn: asyncpg.Connection, grant_id: UUID, *, ends_at: datetime, reason: str) -> None:
    await conn.execute("UPDATE grants SET ends_at = $2, ended_reason = $3 WHERE id = $1", grant_id, ends_at, reason)


async def me(conn: asyncpg.Connection, site_id: UUID, contact_id: UUID) -> list[asyncpg.Record]:
    """The contact's own view in one round trip: a row per grant (program, level, since, until), or one
    row with no grant; none when the site has no such contact."""
    return await conn.fetch(
        "SELECT c.id, c.email, c.first_name, c.last_name, p.name AS program, l.name AS level, g.starts_at, g.ends_at"
        " FROM contacts c LEFT JOIN grants g ON g.contact_id = c.id"
        " LEFT JOIN levels l ON l.id = g.level_id LEFT JOIN programs p ON p.id = l.program_id"
        " WHERE c.id = $1 AND c.site_id = $2 ORDER BY g.starts_at, p.name",
        contact_id,
        site_id,
    )


# --- rules -------------------------------------------------------------------------------------


async def insert_rule(conn: asyncpg.Connection, *, rule_id: UUID, site_id: UUID, product_id: UUID, level_id: UUID) -> bool:
    row = await conn.fetchval(
        "INSERT INTO rules (id, site_id, product_id, level_id) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1",
        rule_id,
        site_id,
        product_id,
        level_id,
    )
    return row is not None


async def rules(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT r.id, r.product_id, r.level_id, l.name AS level, p.name AS program, r.created_at FROM rules r"
        " JOIN levels l ON l.id = r.level_id JOIN programs p ON p.id = l.program_id"
        " WHERE r.site_id = $1 ORDER BY r.created_at",
        site_id,
    )


async def rules_for_product(conn: asyncpg.Connection, site_id: UUID, product_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, level_id FROM rules WHERE site_id = $1 AND product_id = $2 ORDER BY created_at", site_id, product_id
    )


async def open_rule_grant(conn: asyncpg.Connection, rule_id: UUID, contact_id: UUID) -> UUID | None:
    """A grant this rule made the contact that has no end: another purchase adds nothing."""
    return await conn.fetchval(
        "SELECT id FROM grants WHERE rule_id = $1 AND contact_id = $2 AND ends_at IS NULL LIMIT 1", rule_id, contact_id
    )


async def record_order_ending(conn: asyncpg.Connection, *, order_id: UUID, contact_id: UUID, ends_at: datetime, reason: str) -> None:
    await conn.execute(
        "INSERT INTO order_endings (order_id, contact_id, ends_at, reason) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (order_id) DO UPDATE SET ends_at = least(order_endings.ends_at, EXCLUDED.ends_at),"
        " reason = CASE WHEN EXCLUDED.ends_at < order_endings.ends_at THEN EXCLUDED.reason ELSE order_endings.reason END",
        order_id,
        contact_id,
        ends_at,
        reason,
    )


async def order_ending(conn: asyncpg.Connection, order_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT ends_at, reason FROM order_endings WHERE order_id = $1", order_id)
