"""Web sessions in cookies, and CSRF.

After a login the access and refresh tokens live in HttpOnly, SameSite=Lax cookies (``Secure`` per
``CC_COOKIE_SECURE``; unset: when the request came over TLS). The customer API and the pages accept
them like a bearer token; an expired access token is renewed from the refresh cookie (one refresh per
refresh token: concurrent requests share its answer, since auth treats a refresh token presented
twice as stolen).

CSRF: a random token in its own HttpOnly cookie (``cc_csrf``, double submit). A state-changing request that
authenticates by cookie must carry the same value, in the form field ``csrf_token`` (pages) or the
``X-CSRF-Token`` header (scripts), and an ``Origin``, when the browser sends one, of this gateway.
SameSite keeps the cookies off other sites' POSTs as a second line.
"""

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlsplit

from aiohttp import web

from services.gateway.upstream import call
from shared.app import SETTINGS
from shared.errors import Forbidden, Unauthorized
from shared.logging import get_logger

log = get_logger("gateway.session")

ACCESS_COOKIE = "cc_access"
REFRESH_COOKIE = "cc_refresh"
CSRF_COOKIE = "cc_csrf"
SITE_COOKIE = "cc_site"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_MAX_AGE = 30 * 24 * 3600  # the refresh token's sliding lifetime
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFRESHES = web.AppKey("refreshes", dict)
REFRESH_REUSE_SECONDS = 30.0
RENEWED = "cc_renewed_tokens"
SET_CSRF = "cc_set_csrf"
CSRF_CHECKED = "cc_csrf_checked"


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    message = "The request lacks a valid CSRF token."


async def web_state(app: web.Application):
    app[REFRESHES] = {}
    yield


def cookies_secure(request: web.Request) -> bool:
    """The cookies' `Secure` flag: `CC_COOKIE_SECURE`, or, unset, whether the request came over TLS."""
    setting = request.app[SETTINGS].cookie_secure
    return request.secure if setting is None else setting


def framed(request: web.Request) -> bool:
    """A page shown in a frame (the Center embedded in another site's page): the embed snippet's URL
    says so, and browsers say so for every later page inside the frame with ``Sec-Fetch-Dest``."""
    return request.query.get("embed") == "1" or request.headers.get("Sec-Fetch-Dest") in ("iframe", "frame")


def _set(response: web.StreamResponse, request: web.Request, name: str, value: str, *, max_age: int | None) -> None:
    """HttpOnly cookies, SameSite=Lax; inside a frame (embedded in another site's page) Lax cookies
    would never come back, so there they are ``SameSite=None; Secure; Partitioned`` (CHIPS): kept for
    that host site only, and allowed where browsers block third-party cookies."""
    if framed(request):
        attributes = ["Path=/", "HttpOnly", "Secure", "SameSite=None", "Partitioned"]
        if max_age is not None:
            attributes.append(f"Max-Age={max_age}")
        response.headers.add("Set-Cookie", "; ".join([f"{name}={value}", *attributes]))
        return
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=cookies_secure(request)
    )


def set_session(response: web.StreamResponse, request: web.Request, tokens: dict, site: str | None = None) -> None:
    _set(response, request, ACCESS_COOKIE, tokens["access_token"], max_age=SESSION_MAX_AGE)
    _set(response, request, REFRESH_COOKIE, tokens["refresh_token"], max_age=SESSION_MAX_AGE)
    if site:
        _set(response, request, SITE_COOKIE, site, max_age=SESSION_MAX_AGE)


def clear_session(response: web.StreamResponse, request: web.Request | None = None) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        if request is not None and framed(request):
            _set(response, request, name, "", max_age=0)
        else:
            response.del_cookie(name, path="/")


def csrf_token(request: web.Request) -> str:
    """This browser's CSRF token (a new one is set on the response when it has none)."""
    token = request.get(SET_CSRF) or request.cookies.get(CSRF_COOKIE)
    if not token or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request[SET_CSRF] = token
    return token


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # old browsers and non-browser clients: the token decides
    parts = urlsplit(origin)
    return parts.netloc == request.host


def check_csrf(request: web.Request, submitted: str | None) -> None:
    """Raises 403 unless ``submitted`` equals this browser's CSRF cookie and the origin is ours."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted) or not _same_origin(request):
        log.info("csrf.refused", path=request.path)
        raise CsrfFailed()
    request[CSRF_CHECKED] = True


async def refresh(request: web.Request, refresh_token: str) -> dict:
    """New tokens from auth for the refresh cookie; requests racing on the same one share the answer."""
    key = hashlib.sha256(refresh_token.encode()).hexdigest()
    cache: dict = request.app[REFRESHES]
    now = time.monotonic()
    for stale in [k for k, (at, _) in cache.items() if now - at > REFRESH_REUSE_SECONDS]:
        cache.pop(stale, None)
    entry = cache.get(key)
    if entry is None:
        entry = (now, asyncio.ensure_future(_ask_auth(request, refresh_token)))
        cache[key] = entry
    try:
        return await asyncio.shield(entry[1])
    except Exception:
        cache.pop(key, None)  # a refusal or auth away: the next request asks again
        raise


async def _ask_auth(request: web.Request, refresh_token: str) -> dict:
    body = json.dumps({"refresh_token": refresh_token}).encode()
    status, payload, _ = await call(request, "auth", "POST", "/api/token/refresh", body)
    if status != 200:
        raise Unauthorized("The session has ended: log in again.")
    log.info("session.refreshed")
    return json.loads(payload)


@web.middleware
async def session_cookies(request: web.Request, handler):
    """Puts renewed tokens and a new CSRF token on whatever the handler answered (errors too)."""
    response = await handler(request)
    if request.get(RENEWED):
        set_session(response, request, request[RENEWED])
    if request.get(SET_CSRF):
        # Lax, not Strict: a page opened from another site's link (an email) must see the token
        # the browser already has, or it would replace it under the forms of other open tabs.
        _set(response, request, CSRF_COOKIE, request[SET_CSRF], max_age=None)
    return response
