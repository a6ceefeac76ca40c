"""Small helpers the views share: ids from the path, keyset cursors, the page size."""

import base64
from datetime import datetime
from uuid import UUID

from aiohttp import web

from shared.errors import InvalidRequest, NotFound


def path_id(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None


def query_uuid(request: web.Request, name: str) -> UUID | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidRequest(f"{name} is not a valid id.", details={"fields": {name: "not a UUID"}}) from None


def page(request: web.Request) -> tuple[tuple | None, int]:
    """(after, limit) from ``?cursor=&limit=`` (limit 1..100, default 50)."""
    try:
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        raise InvalidRequest("limit must be 1 to 100.", details={"fields": {"limit": "1 to 100"}}) from None
    cursor = request.query.get("cursor")
    if not cursor:
        return None, limit
    try:
        at, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return (datetime.fromisoformat(at), UUID(ident)), limit
    except ValueError:
        raise InvalidRequest("The cursor is not valid.", details={"fields": {"cursor": "invalid"}}) from None


def next_cursor(rows, limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    return base64.urlsafe_b64encode(f"{last['created_at'].isoformat()}|{last['id']}".encode()).decode()


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
