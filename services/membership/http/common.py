"""Small helpers the views share."""

from contextlib import asynccontextmanager
from datetime import datetime, timezone
from uuid import UUID

from aiohttp import web

from shared.app import POOL
from shared.db import unit_of_work
from shared.errors import InvalidRequest, NotFound


def path_id(request: web.Request, name: str) -> UUID:
    """A UUID from the path; a malformed one is simply not found."""
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None


def query_time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise InvalidRequest(details={"fields": {name: "expected an ISO 8601 time"}}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidRequest(details={"fields": {name: f"expected a whole number from {low} to {high}"}})
    return value


def connection(request: web.Request):
    return request.app[POOL].acquire()


@asynccontextmanager
async def work(request: web.Request):
    async with unit_of_work(request.app[POOL], producer="membership", correlation_id=request["correlation_id"]) as uow:
        yield uow
