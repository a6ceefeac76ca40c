"""Outgoing webhooks: a site's endpoints, the deliveries of events to them, every attempt."""

from uuid import UUID

import asyncpg

_ENDPOINT = "id, site_id, url, event_types, active, created_at"


async def create_endpoint(
    conn: asyncpg.Connection, *, endpoint_id: UUID, site_id: UUID, url: str, event_types: list[str], secret: str
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"INSERT INTO webhook_endpoints (id, site_id, url, event_types, secret) VALUES ($1, $2, $3, $4, $5)"
        f" RETURNING {_ENDPOINT}",
        endpoint_id,
        site_id,
        url,
        event_types,
        secret,
    )


async def endpoints_of_site(conn: asyncpg.Connection, site_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE site_id = $1 ORDER BY created_at, id", site_id
    )


async def endpoint(conn: asyncpg.Connection, site_id: UUID, endpoint_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE id = $1 AND site_id = $2", endpoint_id, site_id
    )


async def update_endpoint(
    conn: asyncpg.Connection, site_id: UUID, endpoint_id: UUID, *, url: str | None, event_types: list[str] | None, active: bool | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE webhook_endpoints SET url = COALESCE($3, url), event_types = COALESCE($4, event_types),"
        f" active = COALESCE($5, active) WHERE id = $1 AND site_id = $2 RETURNING {_ENDPOINT}",
        endpoint_id,
        site_id,
        url,
        event_types,
        active,
    )


async def delete_endpoint(conn: asyncpg.Connection, site_id: UUID, endpoint_id: UUID) -> bool:
    return await conn.fetchval(
        "DELETE FROM webhook_endpoints WHERE id = $1 AND site_id = $2 RETURNING 1", endpoint_id, site_id
    ) is not None


async def queue_deliveries(
    conn: asyncpg.Connection, *, site_id: UUID, event_id: UUID, event_type: str, body: str, id_of
) -> int:
    """One delivery per active endpoint of the site subscribed to the type ('*' is every type)."""
    endpoints = await conn.fetch(
        "SELECT id FROM webhook_endpoints WHERE site_id = $1 AND active AND ($2 = ANY(event_types) OR '*' = ANY(event_types))",
        site_id,
        event_type,
    )
    if not endpoints:
        return 0
    await conn.executemany(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, body, status)"
        " VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT DO NOTHING",
        [(id_of(e["id"], event_id), e["id"], event_id, event_type, body) for e in endpoints],
    )
    return len(endpoints)


async def claim_due_deliveries(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.id, d.endpoint_id, d.event_id, d.event_type, d.body, d.attempts, d.window_start,"
        " e.url, e.secret FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND e.active"
        " ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
        limit,
    )


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    *,
    n: int,
    status_code: int | None,
    error: str | None,
    duration_ms: int,
    outcome: str,
    retry_in_seconds: float | None,
) -> None:
    """outcome: 'delivered', 'pending' (retry after ``retry_in_seconds``) or 'failed'."""
    await conn.execute(
        "INSERT INTO webhook_attempts (delivery_id, n, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5)",
        delivery_id,
        n,
        status_code,
        error,
        duration_ms,
    )
    await conn.execute(
        "UPDATE webhook_deliveries SET attempts = $2, status = $3, last_status = $4, last_error = $5,"
        " delivered_at = CASE WHEN $3 = 'delivered' THEN now() ELSE delivered_at END,"
        " next_attempt_at = CASE WHEN $6::float8 IS NULL THEN next_attempt_at"
        "   ELSE now() + make_interval(secs => $6::float8) END WHERE id = $1",
        delivery_id,
        n,
        outcome,
        status_code,
        error,
        retry_in_seconds,
    )


async def deliveries_of(
    conn: asyncpg.Connection, endpoint_id: UUID, *, after: tuple | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, event_id, event_type, status, attempts, last_status, last_error, created_at, delivered_at,"
        " next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1"
        " AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        endpoint_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def attempts_of(conn: asyncpg.Connection, delivery_ids: list[UUID]) -> dict[UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT delivery_id, n, attempted_at, status_code, error, duration_ms FROM webhook_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, n",
        delivery_ids,
    )
    found: dict[UUID, list[asyncpg.Record]] = {i: [] for i in delivery_ids}
    for row in rows:
        found[row["delivery_id"]].append(row)
    return found


async def replay(conn: asyncpg.Connection, endpoint_id: UUID, delivery_id: UUID) -> bool:
    """Send the delivery again now, with a fresh day of retries; wakes the webhook worker."""
    done = await conn.fetchval(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), window_start = now()"
        " WHERE id = $1 AND endpoint_id = $2 RETURNING 1",
        delivery_id,
        endpoint_id,
    )
    if done:
        await conn.execute("SELECT pg_notify('notify_webhook_deliveries', '')")
    return done is not None
