"""Every SQL statement of the sandbox processor."""

import asyncpg


async def insert_token(conn: asyncpg.Connection, *, token: str, brand: str, last4: str, exp_month: int, exp_year: int, behaviour: str) -> None:
    await conn.execute(
        "INSERT INTO tokens (token, brand, last4, exp_month, exp_year, behaviour) VALUES ($1, $2, $3, $4, $5, $6)",
        token, brand, last4, exp_month, exp_year, behaviour,
    )


async def token(conn: asyncpg.Connection, token: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tokens WHERE token = $1", token)


async def charge_by_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM charges WHERE idempotency_key = $1", key)


async def charge(conn: asyncpg.Connection, charge_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM charges WHERE id = $1", charge_id)


async def first_transient_failure(conn: asyncpg.Connection, key: str) -> bool:
    """True the first time a key is seen failing transiently (the next attempt succeeds)."""
    return await conn.fetchval(
        "INSERT INTO transient_failures (idempotency_key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING true", key
    ) is not None


async def insert_charge(conn: asyncpg.Connection, **c) -> asyncpg.Record:
    """The new charge, or the one a concurrent request with the same key stored first."""
    row = await conn.fetchrow(
        "INSERT INTO charges (id, idempotency_key, request_hash, token, amount, currency, status, failure_code, failure_message)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING RETURNING *",
        c["id"], c["idempotency_key"], c["request_hash"], c["token"], c["amount"], c["currency"],
        c["status"], c["failure_code"], c["failure_message"],
    )
    return row if row is not None else await charge_by_key(conn, c["idempotency_key"])


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
