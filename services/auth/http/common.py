"""What several auth views share: the caller's address, 429 answers, the current-password check."""

import asyncio
import functools
import json
from uuid import UUID

from aiohttp import web

from services.auth.domain import CurrentPasswordIncorrect, Throttled, account_key
from services.auth.state import PASSWORDS, THROTTLE
from shared.app import POOL, SETTINGS
from shared.errors import NotFound
from shared.logging import get_logger

log = get_logger("auth.http")


def client_address(request: web.Request) -> str:
    """The client's address as the gateway saw it. The gateway sets ``X-Forwarded-For`` itself (a
    client's own header never gets through it) and only the gateway reaches auth."""
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
    return forwarded[:64] or request.remote or "unknown"


def answers_throttled(view):
    """``Throttled`` → 429 in the error format, with ``Retry-After``."""

    @functools.wraps(view)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await view(request)
        except Throttled as exc:
            raise web.HTTPTooManyRequests(
                text=json.dumps(exc.body()),
                content_type="application/json",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None

    return wrapper


async def check_current_password(request: web.Request, login, password: str) -> None:
    """A change to the account needs the current password: throttled like a login."""
    throttle = request.app[THROTTLE]
    key = account_key(site_slug="", username="", login_id=login["id"])
    async with request.app[POOL].acquire() as conn:
        attempt = await throttle.attempt(conn, key)
        if await request.app[PASSWORDS].verify(login["password_hash"], password):
            await throttle.succeeded(conn, attempt)
            return
        delay = await throttle.failed(conn, attempt)
    log.info("account.current_password_incorrect", login_id=str(login["id"]))
    await asyncio.sleep(delay)
    raise CurrentPasswordIncorrect()


def path_uuid(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None


def settings_of(request: web.Request):
    return request.app[SETTINGS]
