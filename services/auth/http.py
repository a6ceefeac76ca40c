"""Auth's HTTP API (reached through the gateway)."""

import secrets
import uuid
from datetime import datetime, timedelta, timezone

from aiohttp import web

from services.auth import repository as repo
from services.auth.domain import InvalidCredentials, TokenInvalid, check_password_policy, hash_token, token_usable
from services.auth.keys import issue_access_token
from services.auth.state import JWKS, PASSWORDS, SIGNING_KEY
from services.auth.schemas import LoginRequest, LoginResponse, SetPasswordRequest, SetPasswordResponse
from shared.app import POOL, SETTINGS
from shared.http import json_response, read_body
from shared.logging import get_logger

log = get_logger("auth.http")
routes = web.RouteTableDef()


@routes.post("/api/password/set")
async def set_password(request: web.Request) -> web.Response:
    """Consume a set-password (or reset) link: the password is set, the link and its siblings die."""
    body = await read_body(request, SetPasswordRequest)
    check_password_policy(body.new_password)
    token_hash = hash_token(body.token)
    async with request.app[POOL].acquire() as conn:
        _usable_or_refuse(await repo.password_token(conn, token_hash))  # before paying for a hash
        password_hash = await request.app[PASSWORDS].hash(body.new_password)
        async with conn.transaction():
            token = _usable_or_refuse(await repo.password_token(conn, token_hash, for_update=True))
            now = datetime.now(timezone.utc)
            await repo.set_password(conn, token["login_id"], password_hash, now)
            await repo.use_token_and_revoke_others(conn, token["id"], token["login_id"], now)
    log.info("password.set", login_id=str(token["login_id"]), purpose=token["purpose"])
    return json_response(SetPasswordResponse(site=token["site_slug"], username=token["username"]))


def _usable_or_refuse(token):
    if token is None or not token_usable(
        expires_at=token["expires_at"],
        used_at=token["used_at"],
        revoked_at=token["revoked_at"],
        now=datetime.now(timezone.utc),
    ):
        log.info("password.set_refused", reason="token_unknown" if token is None else "token_spent_or_expired")
        raise TokenInvalid()
    return token


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    """Username (any case) and password on a site → an access token and a refresh token."""
    body = await read_body(request, LoginRequest)
    settings = request.app[SETTINGS]
    passwords = request.app[PASSWORDS]
    async with request.app[POOL].acquire() as conn:
        account = await repo.login_by_username(conn, body.site.lower(), body.username.strip())
        stored = account["password_hash"] if account is not None else None
        # Unknown user, no password yet, wrong password: the same work, the same answer.
        if not await passwords.verify(stored, body.password):
            log.info("login.failed")
            raise InvalidCredentials()
        if passwords.needs_rehash(stored):
            await repo.update_password_hash(conn, account["id"], await passwords.hash(body.password))
        refresh_token = secrets.token_urlsafe(32)
        session_id = uuid.uuid4()
        await repo.insert_session(
            conn,
            session_id=session_id,
            login_id=account["id"],
            family_id=session_id,
            refresh_hash=hash_token(refresh_token),
            expires_at=datetime.now(timezone.utc) + timedelta(days=settings.refresh_token_ttl_days),
        )
    access_token = issue_access_token(
        request.app[SIGNING_KEY],
        login_id=account["id"],
        contact_id=account["contact_id"],
        site_id=account["site_id"],
        session_id=session_id,
        settings=settings,
    )
    log.info("login.succeeded", login_id=str(account["id"]))
    return json_response(
        LoginResponse(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=settings.access_token_ttl_seconds,
            redirect="/center",
        )
    )


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    return web.json_response({"keys": request.app[JWKS]}, headers={"Cache-Control": "public, max-age=300"})
