"""Questions other services ask auth (docs/architecture.md, "Synchronous questions")."""

from datetime import datetime, timedelta, timezone

from aiohttp import web

from services.auth import repository as repo
from services.auth.domain import account_key
from services.auth.http.common import path_uuid, settings_of
from services.auth.schemas import LoginState, RevokedSession, RevokedSessions
from services.auth.state import THROTTLE
from shared.app import POOL
from shared.errors import InvalidRequest
from shared.http import json_response

routes = web.RouteTableDef()


@routes.get("/internal/sites/{site_id}/contacts/{contact_id}/login")
async def login_state(request: web.Request) -> web.Response:
    """For membership's access diagnostics: is there a login, is a password set, is it locked."""
    site_id, contact_id = path_uuid(request, "site_id"), path_uuid(request, "contact_id")
    async with request.app[POOL].acquire() as conn:
        login = await repo.login_of_contact(conn, site_id, contact_id)
        if login is None:
            return json_response(LoginState(has_login=False, password_set=False, username=None, locked_until=None))
        locked_until = await request.app[THROTTLE].lock_of(
            conn, account_key(site_slug="", username="", login_id=login["id"])
        )
    return json_response(
        LoginState(
            has_login=True,
            password_set=login["password_hash"] is not None,
            username=login["username"],
            locked_until=locked_until,
        )
    )


@routes.get("/internal/sessions/revoked")
async def revoked_sessions(request: web.Request) -> web.Response:
    """Sessions revoked at or after ``since`` whose access tokens may still be unexpired: the gateway
    polls this and refuses their tokens. Older revocations are left out (their tokens expired)."""
    ttl = timedelta(seconds=settings_of(request).access_token_ttl_seconds)
    horizon = datetime.now(timezone.utc) - ttl - timedelta(seconds=60)
    since = horizon
    if "since" in request.query:
        try:
            since = max(horizon, datetime.fromisoformat(request.query["since"]))
        except (ValueError, TypeError):
            raise InvalidRequest("since must be an ISO 8601 time with a zone.", details={"fields": {"since": "invalid"}}) from None
    async with request.app[POOL].acquire() as conn:
        as_of, rows = await repo.sessions_revoked_since(conn, since)
    return json_response(
        RevokedSessions(
            as_of=as_of,
            sessions=[
                RevokedSession(session_id=r["family_id"], revoked_at=r["revoked_at"], until=r["revoked_at"] + ttl)
                for r in rows
            ],
        )
    )
