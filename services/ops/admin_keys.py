"""Admin API keys: each belongs to one site; only a SHA-256 of the key is stored (membership's
``api_keys``), so a key is shown once, when it is created, and never again."""

import uuid

import asyncpg

from services.membership import repository as membership
from services.membership.domain import key_hash, new_key


class SiteNotFound(Exception):
    pass


async def create_admin_key(conn: asyncpg.Connection, *, site_slug: str, label: str) -> tuple[uuid.UUID, str]:
    """A new key for the site; returns (key id, the key itself)."""
    site = await membership.site_by_slug(conn, site_slug)
    if site is None:
        raise SiteNotFound(site_slug)
    key, key_id = new_key(), uuid.uuid4()
    await membership.put_api_key(
        conn, key_id=key_id, site_id=site.id, key_hash=key_hash(key), label=label
    )
    return key_id, key


async def list_admin_keys(conn: asyncpg.Connection, *, site_slug: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT k.id, s.slug AS site, k.label, k.created_at FROM api_keys k JOIN sites s ON s.id = k.site_id"
        " WHERE $1::text IS NULL OR s.slug = $1 ORDER BY s.slug, k.created_at",
        site_slug,
    )


async def revoke_admin_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> bool:
    """Delete the key; the gateway stops accepting it within its cache time (a minute)."""
    return await conn.fetchval("DELETE FROM api_keys WHERE id = $1 RETURNING true", key_id) is not None
