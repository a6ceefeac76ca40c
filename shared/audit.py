"""The audit log: who did what to which record, when, with the record before and after.

Every admin action writes its entry with ``record`` on the connection of its own transaction, so
the entry commits with the effect or not at all. The actor comes from the identity headers the
gateway sets (``X-CC-Actor``: a staff member or an admin API key, see ``shared/identity.py``).
Each service keeps its entries in its own schema (``audit_log``, ``shared/migrations``) and serves
them at ``GET /admin/api/audit``; the gateway merges the services' answers, newest first.

    async with unit_of_work(pool, ...) as uow:
        before = await repo.order(uow.conn, order_id)
        after = await repo.update_order(uow.conn, ...)
        await audit.record(uow.conn, admin, "order.updated", "order", order_id,
                           contact_id=after["contact_id"], before=before, after=after)
"""

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from shared.app import POOL
from shared.errors import InvalidRequest
from shared.identity import AdminSite, admin_site_of

MAX_LIMIT = 200


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, asyncpg.Record):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, asyncpg.Record):
        value = dict(value)
    return json.dumps(value, default=_plain)


async def record(
    conn: asyncpg.Connection,
    admin: AdminSite,
    action: str,
    target_type: str,
    target_id: Any = None,
    *,
    contact_id: uuid.UUID | None = None,
    before: Any = None,
    after: Any = None,
) -> uuid.UUID:
    """One entry, on ``conn`` (call it inside the effect's transaction). ``before``/``after``: dicts,
    records or pydantic models; never put a secret in them (a key, a password, a card number)."""
    entry_id = uuid.uuid4()
    actor = admin.actor
    await conn.execute(
        "INSERT INTO audit_log (id, site_id, actor_kind, actor_id, actor_name, actor_role, action, target_type,"
        " target_id, contact_id, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)",
        entry_id, admin.site_id, actor.kind, actor.id, actor.name, actor.role, action, target_type,
        None if target_id is None else str(target_id), contact_id, _json(before), _json(after),
    )
    return entry_id


async def entries(
    conn: asyncpg.Connection, site_id: uuid.UUID, *, contact_id: uuid.UUID | None = None,
    before: datetime | None = None, limit: int = 50,
) -> list[dict]:
    """The site's entries, newest first (of one contact when given; older than ``before`` when given)."""
    rows = await conn.fetch(
        "SELECT id, at, actor_kind, actor_id, actor_name, actor_role, action, target_type, target_id, contact_id,"
        " before::text AS before, after::text AS after FROM audit_log"
        " WHERE site_id = $1 AND ($2::uuid IS NULL OR contact_id = $2) AND ($3::timestamptz IS NULL OR at < $3)"
        " ORDER BY at DESC, id LIMIT $4",
        site_id, contact_id, before, limit,
    )
    return [entry_json(r) for r in rows]


def entry_json(row) -> dict:
    return {
        "id": str(row["id"]),
        "at": row["at"].isoformat(),
        "actor": {"kind": row["actor_kind"], "id": row["actor_id"], "name": row["actor_name"], "role": row["actor_role"]},
        "action": row["action"],
        "target_type": row["target_type"],
        "target_id": row["target_id"],
        "contact_id": str(row["contact_id"]) if row["contact_id"] else None,
        "before": json.loads(row["before"]) if row["before"] else None,
        "after": json.loads(row["after"]) if row["after"] else None,
    }


def parse_query(query) -> tuple[uuid.UUID | None, datetime | None, int]:
    """``contact_id``, ``before`` (an entry's ``at``) and ``limit`` (1..200, default 50); 422 otherwise."""
    fields = {}
    try:
        contact_id = uuid.UUID(query["contact_id"]) if query.get("contact_id") else None
    except ValueError:
        contact_id, fields["contact_id"] = None, "not a UUID"
    try:
        before = datetime.fromisoformat(query["before"]) if query.get("before") else None
        if before is not None and before.tzinfo is None:
            raise ValueError
    except ValueError:
        before, fields["before"] = None, "not an ISO date-time with its offset"
    raw_limit = query.get("limit") or "50"
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= MAX_LIMIT:
        fields["limit"] = f"an integer from 1 to {MAX_LIMIT}"
    if fields:
        raise InvalidRequest("The query is not valid.", details={"fields": fields})
    return contact_id, before, limit


async def list_entries(request: web.Request) -> web.Response:
    """This service's audit entries of the caller's site (the gateway merges every service's)."""
    site_id = admin_site_of(request).site_id
    contact_id, before, limit = parse_query(request.query)
    async with request.app[POOL].acquire() as conn:
        found = await entries(conn, site_id, contact_id=contact_id, before=before, limit=limit)
    return web.json_response({"entries": found})
