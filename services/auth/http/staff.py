"""Staff logins for the admin console. Only the gateway calls these (``/internal/``): its
``/admin/login`` page, and every console page to learn whose session its cookie is.

A staff session is an opaque token, not a contact's JWT: the gateway never takes one for the other.
The password check is the contacts' (argon2id, the same throttle: per account, per address, the
same delays and locks); an unknown email and a wrong password do the same work and answer alike.
"""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

from aiohttp import web

from services.auth import repository as repo
from services.auth.domain import InvalidCredentials, address_key, hash_token, new_token, staff_account_key
from services.auth.http.common import answers_throttled, client_address, settings_of
from services.auth.schemas import StaffLoginRequest, StaffMember, StaffOfSession, StaffSession, StaffTokenRequest
from services.auth.state import PASSWORDS, THROTTLE
from shared.app import POOL
from shared.errors import Unauthorized
from shared.http import json_response, read_body
from shared.logging import get_logger

log = get_logger("auth.staff")
routes = web.RouteTableDef()
STAFF_TOKEN_PREFIX = "cc_staff_"


class StaffSessionInvalid(Unauthorized):
    code = "staff_session_invalid"
    message = "The staff session has ended: log in again."


def _member(row) -> StaffMember:
    return StaffMember(id=row["id"], site_id=row["site_id"], email=row["email"], role=row["role"])


@routes.post("/internal/staff/login")
@answers_throttled
async def staff_login(request: web.Request) -> web.Response:
    body = await read_body(request, StaffLoginRequest)
    settings = settings_of(request)
    throttle = request.app[THROTTLE]
    email = body.email.strip()
    async with request.app[POOL].acquire() as conn:
        staff = await repo.staff_by_email(conn, body.site_id, email)
        attempt = await throttle.attempt(
            conn, staff_account_key(site_id=body.site_id, email=email), address_key(client_address(request))
        )
        stored = staff["password_hash"] if staff is not None else None
        if not await request.app[PASSWORDS].verify(stored, body.password):
            delay = await throttle.failed(conn, attempt)
            staff = None
        else:
            await throttle.succeeded(conn, attempt)
            if request.app[PASSWORDS].needs_rehash(stored):
                await repo.update_staff_password_hash(conn, staff["id"], await request.app[PASSWORDS].hash(body.password))
            token = STAFF_TOKEN_PREFIX + new_token()
            expires_at = datetime.now(timezone.utc) + timedelta(hours=settings.staff_session_ttl_hours)
            await repo.insert_staff_session(
                conn, session_id=uuid.uuid4(), staff_id=staff["id"], token_hash=hash_token(token), expires_at=expires_at
            )
    if staff is None:
        log.info("staff.login_failed")
        await asyncio.sleep(delay)
        raise InvalidCredentials("The email or password is incorrect.")
    log.info("staff.login_succeeded", staff_id=str(staff["id"]), role=staff["role"])
    return json_response(StaffSession(token=token, expires_at=expires_at, staff=_member(staff)))


@routes.post("/internal/staff/session")
async def staff_session(request: web.Request) -> web.Response:
    """Whose live session this token is; 401 ``staff_session_invalid`` otherwise."""
    body = await read_body(request, StaffTokenRequest)
    async with request.app[POOL].acquire() as conn:
        row = await repo.staff_of_session(conn, hash_token(body.token), datetime.now(timezone.utc))
    if row is None:
        raise StaffSessionInvalid()
    return json_response(StaffOfSession(staff=_member(row), expires_at=row["expires_at"]))


@routes.post("/internal/staff/logout")
async def staff_logout(request: web.Request) -> web.Response:
    body = await read_body(request, StaffTokenRequest)
    async with request.app[POOL].acquire() as conn:
        await repo.revoke_staff_session(conn, hash_token(body.token), datetime.now(timezone.utc))
    log.info("staff.logout")
    return web.json_response({"status": "logged_out"})
