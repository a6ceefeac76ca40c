"""Every SQL statement of billing."""

import asyncpg

from services.billing.domain import Product


async def upsert_product(conn: asyncpg.Connection, p: Product) -> None:
    await conn.execute(
        "INSERT INTO products (id, site_id, name, kind, amount, currency, interval, interval_count, installments)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        p.id, p.site_id, p.name, p.kind, p.amount, p.currency, p.interval, p.interval_count, p.installments,
    )


async def products_of_site(conn: asyncpg.Connection, site_id) -> list[Product]:
    rows = await conn.fetch(
        "SELECT id, site_id, name, kind, amount, currency, interval, interval_count, installments"
        " FROM products WHERE site_id = $1 ORDER BY created_at, name",
        site_id,
    )
    return [Product(**r) for r in rows]
