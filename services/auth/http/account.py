"""The contact's own login: setting a password from a link, forgetting it, changing it or the username."""

from datetime import datetime, timedelta, timezone

from aiohttp import web

from services.auth import repository as repo
from services.auth.domain import (
    TokenInvalid,
    UsernameTaken,
    account_key,
    check_password_policy,
    hash_token,
    normalize_username,
    token_usable,
)
from services.auth.http.common import answers_throttled, check_current_password, settings_of
from services.auth.links import issue_password_link
from services.auth.schemas import (
    Accepted,
    ChangePasswordRequest,
    ChangeUsernameRequest,
    ForgotPasswordRequest,
    PasswordChangedResponse,
    SetPasswordRequest,
    SetPasswordResponse,
    UsernameResponse,
)
from services.auth.state import PASSWORDS, THROTTLE
from shared.app import POOL
from shared.db import unit_of_work
from shared.errors import Unauthorized
from shared.events.auth import PasswordChanged, PasswordResetRequested, UsernameChanged
from shared.http import json_response, read_body
from shared.identity import contact_of
from shared.logging import get_logger

log = get_logger("auth.http")
routes = web.RouteTableDef()


def _uow(request: web.Request):
    return unit_of_work(request.app[POOL], producer=settings_of(request).service, correlation_id=request["correlation_id"])


@routes.post("/api/password/set")
async def set_password(request: web.Request) -> web.Response:
    """Consume a set-password or reset link: the password is set, the link and its siblings die, every
    session of the login ends and a lock from failed logins is lifted."""
    body = await read_body(request, SetPasswordRequest)
    check_password_policy(body.new_password)  # a weak password never spends the link
    token_hash = hash_token(body.token)
    async with request.app[POOL].acquire() as conn:
        token = _usable_or_refuse(await repo.password_token(conn, token_hash))  # before paying for a hash
    check_password_policy(body.new_password, context=(token["username"], token["email"]))
    password_hash = await request.app[PASSWORDS].hash(body.new_password)
    async with _uow(request) as uow:
        token = _usable_or_refuse(await repo.password_token(uow.conn, token_hash, for_update=True))
        now = datetime.now(timezone.utc)
        await repo.set_password(uow.conn, token["login_id"], password_hash, now)
        await repo.use_token_and_revoke_others(uow.conn, token["id"], token["login_id"], now)
        revoked = await repo.revoke_sessions_of_login(uow.conn, token["login_id"], now, "password_set")
        await request.app[THROTTLE].clear(uow.conn, account_key(site_slug="", username="", login_id=token["login_id"]))
        if token["had_password"]:
            await uow.publish(_password_changed(token, token["login_id"], now))
    log.info("password.set", login_id=str(token["login_id"]), purpose=token["purpose"], sessions_revoked=revoked)
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


@routes.post("/api/password/forgot")
async def forgot_password(request: web.Request) -> web.Response:
    """Always 202, known email or not. A known one gets a single-use reset link valid for an hour
    (older reset links die); at most ``resets_per_hour`` per login."""
    body = await read_body(request, ForgotPasswordRequest)
    settings = settings_of(request)
    now = datetime.now(timezone.utc)
    async with _uow(request) as uow:
        login = await repo.login_by_email(uow.conn, body.site.strip().lower(), body.email.strip())
        if login is None:
            log.info("password.reset_unknown_email")
        elif await repo.count_tokens_since(uow.conn, login["id"], "reset", now - timedelta(hours=1)) >= settings.resets_per_hour:
            log.warning("password.reset_throttled", login_id=str(login["id"]))
        else:
            expires_at = now + timedelta(minutes=settings.reset_ttl_minutes)
            await repo.revoke_open_tokens(uow.conn, login["id"], now, purpose="reset")
            reset_link = await issue_password_link(
                uow.conn, settings, login_id=login["id"], purpose="reset", expires_at=expires_at,
                routing_key=PasswordResetRequested.routing_key,
            )
            await uow.publish(
                PasswordResetRequested(
                    login_id=login["id"],
                    contact_id=login["contact_id"],
                    site_id=login["site_id"],
                    site_name=login["site_name"],
                    email=login["email"],
                    first_name=login["first_name"],
                    username=login["username"],
                    reset_link=reset_link,
                    expires_at=expires_at,
                )
            )
            log.info("password.reset_requested", login_id=str(login["id"]))
    return json_response(Accepted(), status=202)


@routes.put("/api/account/username")
@answers_throttled
async def change_username(request: web.Request) -> web.Response:
    contact = contact_of(request)
    body = await read_body(request, ChangeUsernameRequest)
    new_username = normalize_username(body.new_username)
    login = await _login_of(request, contact)
    await check_current_password(request, login, body.current_password)
    if new_username == login["username"]:
        return json_response(UsernameResponse(username=new_username))
    async with _uow(request) as uow:
        if not await repo.change_username(uow.conn, login["id"], new_username):
            log.info("account.username_taken", login_id=str(login["id"]))
            raise UsernameTaken(details={"fields": {"new_username": "taken"}})
        now = datetime.now(timezone.utc)
        await uow.publish(
            UsernameChanged(
                login_id=login["id"],
                contact_id=login["contact_id"],
                site_id=login["site_id"],
                site_name=login["site_name"],
                email=login["email"],
                first_name=login["first_name"],
                old_username=login["username"],
                new_username=new_username,
                changed_at=now,
            )
        )
    log.info("account.username_changed", login_id=str(login["id"]))
    return json_response(UsernameResponse(username=new_username))


@routes.put("/api/account/password")
@answers_throttled
async def change_password(request: web.Request) -> web.Response:
    """The current password, then the new one: every other session ends, open links die."""
    contact = contact_of(request)
    body = await read_body(request, ChangePasswordRequest)
    login = await _login_of(request, contact)
    await check_current_password(request, login, body.current_password)
    check_password_policy(body.new_password, context=(login["username"], login["email"]))
    password_hash = await request.app[PASSWORDS].hash(body.new_password)
    now = datetime.now(timezone.utc)
    async with _uow(request) as uow:
        await repo.set_password(uow.conn, login["id"], password_hash, now)
        revoked = await repo.revoke_sessions_of_login(
            uow.conn, login["id"], now, "password_changed", keep_family=contact.session_id
        )
        await repo.revoke_open_tokens(uow.conn, login["id"], now)
        await uow.publish(_password_changed(login, login["id"], now))
    log.info("account.password_changed", login_id=str(login["id"]), sessions_revoked=revoked)
    return json_response(PasswordChangedResponse(other_sessions_revoked=revoked))


async def _login_of(request: web.Request, contact):
    async with request.app[POOL].acquire() as conn:
        login = await repo.login_in_site(conn, contact.login_id, contact.site_id)
    if login is None or login["contact_id"] != contact.contact_id:
        raise Unauthorized()
    return login


def _password_changed(row, login_id, now: datetime) -> PasswordChanged:
    return PasswordChanged(
        login_id=login_id,
        contact_id=row["contact_id"],
        site_id=row["site_id"],
        site_name=row["site_name"],
        email=row["email"],
        first_name=row["first_name"],
        changed_at=now,
    )
