"""Establishing who calls: access tokens verified locally against auth's JWKS (cached), admin API keys
verified by membership (cached briefly). The services get the result as ``X-CC-*`` headers.

Revoked sessions (logout, password change, refresh-token reuse): the gateway polls auth once a second
for the sessions revoked since its last poll (``GET /internal/sessions/revoked``) and keeps them in a
set until their access tokens would have expired anyway. Checking a token costs one set lookup and
auth sees one small request per second per gateway, whatever the traffic. A logout through this
gateway takes effect here at once. If auth cannot be reached, the last known set stays in force.
"""

import asyncio
import contextlib
import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode
from uuid import UUID

import aiohttp
import jwt
from aiohttp import web

from services.gateway.upstream import CLIENT, call, forward
from services.gateway.web import session
from shared.app import SETTINGS
from shared.errors import Unauthorized
from shared.identity import Actor, AdminSite, Contact
from shared.logging import get_logger

log = get_logger("gateway.identity")

KEYS = web.AppKey("jwks_cache", object)
API_KEYS = web.AppKey("api_key_cache", dict)
JWKS_TTL = 60.0  # a retired key stops verifying within a minute
JWKS_MIN_REFRESH = 5.0
API_KEY_TTL = 60.0
REVOKED = web.AppKey("revoked_sessions", object)
REVOCATION_POLL_SECONDS = 1.0
REVOCATION_OVERLAP = timedelta(seconds=10)
VERIFIED = web.AppKey("verified_tokens", dict)
VERIFIED_MAX = 20_000


class JwksCache:
    """Auth's public keys, refreshed every minute, or at once (rate-limited) for an unknown kid."""

    def __init__(self) -> None:
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def key(self, request: web.Request, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        stale = now - self.fetched_at > JWKS_TTL
        if stale or (kid not in self.keys and now - self.fetched_at > JWKS_MIN_REFRESH):
            async with self._lock:
                if time.monotonic() - self.fetched_at > JWKS_MIN_REFRESH or stale:
                    await self._refresh(request)
        return self.keys.get(kid)

    async def _refresh(self, request: web.Request) -> None:
        status, payload, _ = await call(request, "auth", "GET", "/.well-known/jwks.json")
        if status != 200:
            log.warning("jwks.refresh_failed", status=status)
            return
        keys = {}
        for jwk in json.loads(payload)["keys"]:
            if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="EdDSA")
        self.keys, self.fetched_at = keys, time.monotonic()


class SessionRevoked(jwt.InvalidTokenError):
    """The token is genuine but its session ended (logout, password change, stolen refresh token)."""


class RevokedSessions:
    """Session ids whose access tokens are refused, each until its tokens would have expired."""

    def __init__(self) -> None:
        self.until: dict[UUID, datetime] = {}
        self.as_of: datetime | None = None

    def __contains__(self, session_id: UUID) -> bool:
        return session_id in self.until

    def revoke_now(self, session_id: UUID) -> None:
        self.until.setdefault(session_id, datetime.now(timezone.utc) + timedelta(hours=1))

    async def sync(self, app: web.Application) -> None:
        settings = app[SETTINGS]
        query = f"?{urlencode({'since': (self.as_of - REVOCATION_OVERLAP).isoformat()})}" if self.as_of else ""
        url = settings.upstreams()["auth"].rstrip("/") + "/internal/sessions/revoked" + query
        async with app[CLIENT].get(url, timeout=aiohttp.ClientTimeout(total=2.0)) as response:
            if response.status != 200:
                raise RuntimeError(f"auth answered {response.status}")
            answer = await response.json()
        for item in answer["sessions"]:
            self.until[UUID(item["session_id"])] = datetime.fromisoformat(item["until"])
        self.as_of = datetime.fromisoformat(answer["as_of"])
        now = datetime.now(timezone.utc)
        self.until = {sid: until for sid, until in self.until.items() if until > now}


async def _follow_revocations(app: web.Application) -> None:
    revoked: RevokedSessions = app[REVOKED]
    failing = False
    while True:
        try:
            await revoked.sync(app)
            if failing:
                log.info("revocations.sync_recovered")
            failing = False
        except Exception as exc:  # auth away: keep what we know, say so once
            if not failing:
                log.warning("revocations.sync_failed", error=type(exc).__name__)
            failing = True
        await asyncio.sleep(REVOCATION_POLL_SECONDS)


async def identity_caches(app: web.Application):
    app[KEYS] = JwksCache()
    app[API_KEYS] = {}
    app[REVOKED] = RevokedSessions()
    app[VERIFIED] = {}
    poller = asyncio.create_task(_follow_revocations(app))
    yield
    poller.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poller


async def authenticate_contact(request: web.Request) -> Contact:
    """The contact behind ``Authorization: Bearer <access token>`` or, without that header, the web
    session's cookies (see ``web/session.py``); 401 for anything else."""
    header = request.headers.get("Authorization", "")
    if not header and (session.ACCESS_COOKIE in request.cookies or session.REFRESH_COOKIE in request.cookies):
        return await _session_contact(request)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Log in first: send 'Authorization: Bearer <access token>'.")
    return await verify_access_token(request, token)


async def _session_contact(request: web.Request) -> Contact:
    """The session cookie's contact. A state-changing call must pass the CSRF check (pages check their
    form's field first and mark the request); an expired access token is renewed from the refresh
    cookie, and the new pair goes back to the browser with the response."""
    if request.method not in session.SAFE_METHODS and not request.get(session.CSRF_CHECKED):
        session.check_csrf(request, request.headers.get(session.CSRF_HEADER))
    if request.get(session.RENEWED):
        return await verify_access_token(request, request[session.RENEWED]["access_token"])
    access = request.cookies.get(session.ACCESS_COOKIE, "")
    if access:
        try:
            return await verify_access_token(request, access)
        except Unauthorized:
            pass
    refresh_token = request.cookies.get(session.REFRESH_COOKIE, "")
    if not refresh_token:
        raise Unauthorized("The session has ended: log in again.")
    tokens = await session.refresh(request, refresh_token)
    request[session.RENEWED] = tokens
    return await verify_access_token(request, tokens["access_token"])


async def verify_access_token(request: web.Request, token: str) -> Contact:
    """A genuine, unexpired, unrevoked access token's contact; 401 otherwise."""
    settings = request.app[SETTINGS]
    verified: dict = request.app[VERIFIED]
    try:
        # A token already verified is not verified again (an Ed25519 check is most of the gateway's
        # CPU per call): it is taken while it has not expired and the key that verified it is still
        # the one published under its kid. Its session is checked against revocations every time.
        hit = verified.get(token)
        if hit is not None:
            contact, expires, kid, used_key = hit
            if time.time() < expires and await request.app[KEYS].key(request, kid) is used_key:
                if contact.session_id in request.app[REVOKED]:
                    raise SessionRevoked()
                return contact
            verified.pop(token, None)
        kid = jwt.get_unverified_header(token).get("kid")
        key = await request.app[KEYS].key(request, kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["EdDSA"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
        contact = Contact(
            contact_id=UUID(claims["sub"]),
            site_id=UUID(claims["site"]),
            login_id=UUID(claims["lid"]),
            session_id=UUID(claims["sid"]),
        )
        if contact.session_id in request.app[REVOKED]:
            raise SessionRevoked()
        if len(verified) >= VERIFIED_MAX:
            verified.clear()
        verified[token] = (contact, float(claims["exp"]), kid, key)
        return contact
    except (jwt.InvalidTokenError, KeyError, ValueError, TypeError) as exc:
        log.info("token.refused", reason=type(exc).__name__)
        raise Unauthorized("The access token is invalid or has expired.") from None


async def authenticate_admin(request: web.Request) -> AdminSite:
    """The site of ``X-Api-Key``: membership checks the key's hash; the answer is cached for a minute."""
    key = request.headers.get("X-Api-Key", "")
    if not key or len(key) > 200:
        raise Unauthorized("An admin API key is required (X-Api-Key).")
    digest = hashlib.sha256(key.encode()).hexdigest()
    cache: dict = request.app[API_KEYS]
    hit = cache.get(digest)
    if hit and time.monotonic() - hit[1] < API_KEY_TTL:
        return hit[0]
    status, payload, _ = await call(
        request, "membership", "POST", "/internal/api-keys/verify", json.dumps({"key": key}).encode()
    )
    if status != 200:
        cache.pop(digest, None)
        raise Unauthorized("The admin API key is not valid.")
    answer = json.loads(payload)
    site = AdminSite(
        site_id=UUID(answer["site_id"]),
        actor=Actor(kind="api_key", id=answer.get("key_id", "-"), name=answer.get("label", "")),
    )
    if len(cache) > 10_000:
        cache.clear()
    cache[digest] = (site, time.monotonic())
    return site


async def forward_as_contact(request: web.Request, service: str, path: str | None = None) -> web.Response:
    """A customer API call: verify the token, then forward with the contact's identity."""
    contact = await authenticate_contact(request)
    return await forward(request, service, path, contact.headers())


async def forward_as_admin(request: web.Request, service: str, path: str | None = None) -> web.Response:
    """An admin API call: verify the API key, then forward with the key's site."""
    site = await authenticate_admin(request)
    return await forward(request, service, path, site.headers())
