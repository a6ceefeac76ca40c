"""Every SQL statement of the sandbox processor."""

import asyncpg


async def insert_token(conn: asyncpg.Connection, *, token: str, brand: str, last4: str, exp_month: int, exp_year: int, behaviour: str) -> None:
    await conn.execute(
        "INSERT INTO tokens (token, brand, last4, exp_month, exp_year, behaviour) VALUES ($1, $2, $3, $4, $5, $6)",
        token, brand, last4, exp_month, exp_year, behaviour,
    )


async def token(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tokens WHERE token = $1", token)


async def tokens(conn: asyncpg.Connection, values: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM tokens WHERE token = ANY($1::text[])", values)
    return {r["token"]: r for r in rows}


async def charge_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM charges WHERE idempotency_key = $1", key)


async def charges_by_keys(conn: asyncpg.Connection, keys: list[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM charges WHERE idempotency_key = ANY($1::text[])", keys)
    return {r["idempotency_key"]: r for r in rows}


async def charge(conn: asyncpg.Connection, charge_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM charges WHERE id = $1", charge_id)


async def first_transient_failures(conn: asyncpg.Connection, keys: list[str]) -> set[str]:
    """The keys seen failing transiently for the first time now (their next attempt succeeds)."""
    rows = await conn.fetch(
        "INSERT INTO transient_failures (idempotency_key) SELECT unnest($1::text[])"
        " ON CONFLICT DO NOTHING RETURNING idempotency_key",
        keys,
    )
    return {r["idempotency_key"] for r in rows}


async def insert_charges(conn: asyncpg.Connection, rows: list[tuple]) -> dict[str, asyncpg.Record]:
    """(id, idempotency_key, request_hash, token, amount, currency, status, failure_code,
    failure_message) in one statement. Answers every key's charge: the new one, or the one a
    concurrent request with the same key stored first."""
    columns = list(zip(*rows))
    inserted = await conn.fetch(
        "INSERT INTO charges (id, idempotency_key, request_hash, token, amount, currency, status, failure_code,"
        " failure_message) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[],"
        " $6::text[], $7::text[], $8::text[], $9::text[])"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING *",
        *columns,
    )
    stored = {r["idempotency_key"]: r for r in inserted}
    if len(stored) < len(rows):
        stored.update(await charges_by_keys(conn, [r[1] for r in rows if r[1] not in stored]))
    return stored


async def refund_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM refunds WHERE idempotency_key = $1", key)


async def insert_refund(conn: asyncpg.Connection, *, refund_id: str, key: str, request_hash: str, charge_id: str, amount: int) -> asyncpg.Record | None:
    """The refund, or None when the charge has less left to refund than asked."""
    updated = await conn.fetchval(
        "UPDATE charges SET amount_refunded = amount_refunded + $2"
        " WHERE id = $1 AND status = 'succeeded' AND amount_refunded + $2 <= amount RETURNING id",
        charge_id, amount,
    )
    if updated is None:
        return None
    return await conn.fetchrow(
        "INSERT INTO refunds (id, idempotency_key, request_hash, charge_id, amount) VALUES ($1, $2, $3, $4, $5) RETURNING *",
        refund_id, key, request_hash, charge_id, amount,
    )
