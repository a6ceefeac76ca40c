"""Logging in, refreshing, logging out; the public keys that verify access tokens."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
from aiohttp import web

from services.auth import repository as repo
from services.auth.domain import (
    InvalidCredentials,
    RefreshTokenInvalid,
    account_key,
    address_key,
    hash_token,
    new_token,
    safe_redirect,
)
from services.auth.http.common import answers_throttled, client_address, settings_of
from services.auth.keys import issue_access_token, public_keys
from services.auth.schemas import LoggedOut, LoginRequest, LoginResponse, RefreshRequest, TokenResponse
from services.auth.state import KEYRING, PASSWORDS, THROTTLE
from shared.app import POOL
from shared.client import ask
from shared.errors import ServiceUnavailable
from shared.http import json_response, read_body
from shared.identity import contact_of
from shared.logging import get_logger

log = get_logger("auth.http")
routes = web.RouteTableDef()
CUSTOMER_CENTER = "/center"


@routes.post("/api/login")
@answers_throttled
async def login(request: web.Request) -> web.Response:
    """Username (any case) and password on a site → an access token, a refresh token, the page to open.

    Unknown username, no password set yet, wrong password: the same work (one argon2 verification,
    the same throttling), the same answer.
    """
    body = await read_body(request, LoginRequest)
    settings = settings_of(request)
    site, username = body.site.strip().lower(), body.username.strip()
    throttle = request.app[THROTTLE]
    async with request.app[POOL].acquire() as conn:
        account = await repo.login_by_username(conn, site, username)
        key = account_key(site_slug=site, username=username, login_id=account["id"] if account else None)
        address = address_key(client_address(request))
        attempt = await throttle.attempt(conn, key, address)
        stored = account["password_hash"] if account is not None else None
        if not await request.app[PASSWORDS].verify(stored, body.password):
            delay = await throttle.failed(conn, attempt)
            account = None
        else:
            await throttle.succeeded(conn, attempt)
            if request.app[PASSWORDS].needs_rehash(stored):
                await repo.update_password_hash(conn, account["id"], await request.app[PASSWORDS].hash(body.password))
                log.info("login.password_rehashed", login_id=str(account["id"]))
            family_id, refresh_token = await _start_session(conn, account["id"], settings)
    if account is None:
        log.info("login.failed")
        await asyncio.sleep(delay)
        raise InvalidCredentials()
    access_token = _access_token(request, account, family_id)
    redirect = await _post_login_page(request, account)
    log.info("login.succeeded", login_id=str(account["id"]), session_id=str(family_id))
    return json_response(
        LoginResponse(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=settings.access_token_ttl_seconds,
            redirect=redirect,
        )
    )


@routes.post("/api/token/refresh")
async def refresh(request: web.Request) -> web.Response:
    """A refresh token is good once: it is exchanged for a new pair. Presenting a spent one again means
    it was stolen (or the client is broken): the whole session dies."""
    body = await read_body(request, RefreshRequest)
    settings = settings_of(request)
    now = datetime.now(timezone.utc)
    refused = None
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await repo.refresh_session(conn, hash_token(body.refresh_token))
        if row is None:
            refused = "unknown"
        elif row["revoked_at"] is not None:
            refused = "revoked"
        elif row["rotated_at"] is not None:
            refused = "reused"
            await repo.revoke_family(conn, row["family_id"], row["login_id"], now, "refresh_token_reused")
        elif row["expires_at"] <= now:
            refused = "expired"
        else:
            await repo.mark_rotated(conn, row["id"], now)
            refresh_token = await _rotate(conn, row, settings, now)
    if refused is not None:
        level = log.warning if refused == "reused" else log.info
        level("token.refresh_refused", reason=refused, session_id=str(row["family_id"]) if row else None)
        raise RefreshTokenInvalid()
    log.info("token.refreshed", session_id=str(row["family_id"]))
    return json_response(
        TokenResponse(
            access_token=_access_token(request, row, row["family_id"], login_id=row["login_id"]),
            refresh_token=refresh_token,
            expires_in=settings.access_token_ttl_seconds,
        )
    )


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    """Ends the caller's session: its refresh tokens die at once, its access tokens at the gateway."""
    contact = contact_of(request)
    async with request.app[POOL].acquire() as conn:
        await repo.revoke_family(conn, contact.session_id, contact.login_id, datetime.now(timezone.utc), "logout")
    log.info("logout", login_id=str(contact.login_id), session_id=str(contact.session_id))
    return json_response(LoggedOut())


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    """Every unretired key, so tokens signed before a rotation keep verifying."""
    async with request.app[POOL].acquire() as conn:
        keys = await public_keys(conn)
    return web.json_response({"keys": keys}, headers={"Cache-Control": "public, max-age=60"})


async def _start_session(conn: asyncpg.Connection, login_id, settings) -> tuple[uuid.UUID, str]:
    """A new session (family) with its first refresh token; → (session id, refresh token)."""
    family_id = uuid.uuid4()
    refresh_token = new_token()
    await repo.insert_session(
        conn,
        session_id=uuid.uuid4(),
        login_id=login_id,
        family_id=family_id,
        refresh_hash=hash_token(refresh_token),
        expires_at=datetime.now(timezone.utc) + timedelta(days=settings.refresh_token_ttl_days),
    )
    return family_id, refresh_token


async def _rotate(conn: asyncpg.Connection, row, settings, now: datetime) -> str:
    refresh_token = new_token()
    await repo.insert_session(
        conn,
        session_id=uuid.uuid4(),
        login_id=row["login_id"],
        family_id=row["family_id"],
        refresh_hash=hash_token(refresh_token),
        expires_at=now + timedelta(days=settings.refresh_token_ttl_days),
    )
    return refresh_token


def _access_token(request: web.Request, account, session_id, *, login_id=None) -> str:
    return issue_access_token(
        request.app[KEYRING].current,
        login_id=login_id or account["id"],
        contact_id=account["contact_id"],
        site_id=account["site_id"],
        session_id=session_id,
        settings=settings_of(request),
    )


async def _post_login_page(request: web.Request, account) -> str:
    """Membership knows the site's post-login page and whether the contact may open it. When it cannot
    say, the Customer Center, and why is logged."""
    path = f"/internal/sites/{account['site_id']}/contacts/{account['contact_id']}/landing"
    try:
        status, answer = await ask(
            request.app, "membership", "GET", path, timeout=settings_of(request).landing_timeout_seconds
        )
    except ServiceUnavailable:
        log.warning("login.landing_default", reason="membership_unavailable", login_id=str(account["id"]))
        return CUSTOMER_CENTER
    if status != 200 or not isinstance(answer, dict):
        log.warning("login.landing_default", reason=f"membership_answered_{status}", login_id=str(account["id"]))
        return CUSTOMER_CENTER
    redirect = safe_redirect(answer.get("redirect"))
    if redirect is None:
        log.warning("login.landing_default", reason="unsafe_redirect", login_id=str(account["id"]))
        return CUSTOMER_CENTER
    if redirect == CUSTOMER_CENTER and answer.get("reason"):
        log.info("login.landing_customer_center", reason=str(answer["reason"])[:200], login_id=str(account["id"]))
    return redirect
