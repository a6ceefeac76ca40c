"""Calling the services: one client session, timeouts, a clear 503 naming the service that is down."""

import asyncio

import aiohttp
from aiohttp import web

from shared.app import SETTINGS
from shared.errors import ServiceUnavailable
from shared.http import CORRELATION_HEADER
from shared.logging import get_logger

log = get_logger("gateway.upstream")

CLIENT = web.AppKey("client", aiohttp.ClientSession)
MAX_BODY = 64 * 1024
_PASS_HEADERS = ("Retry-After", "Cache-Control", "Location")


async def client_session(app: web.Application):
    settings = app[SETTINGS]
    app[CLIENT] = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.upstream_timeout),
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
    )
    yield
    await app[CLIENT].close()


async def call(
    request: web.Request,
    service: str,
    method: str,
    path: str,
    body: bytes | None = None,
    identity: dict[str, str] | None = None,
) -> tuple[int, bytes, dict]:
    """Call a service with the request's correlation id and, when given, the caller's identity headers."""
    settings = request.app[SETTINGS]
    url = settings.upstreams()[service].rstrip("/") + path
    headers = {CORRELATION_HEADER: request["correlation_id"], "X-Forwarded-For": request.remote or ""}
    if identity:
        headers.update(identity)
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with request.app[CLIENT].request(method, url, data=body, headers=headers) as response:
            payload = await response.read()
            passed = {h: response.headers[h] for h in _PASS_HEADERS if h in response.headers}
            passed["Content-Type"] = response.headers.get("Content-Type", "application/json")
            return response.status, payload, passed
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        log.warning("upstream.unavailable", service=service, path=path, error=type(exc).__name__)
        raise ServiceUnavailable(
            f"The {service} service is unavailable. Try again shortly.", details={"service": service}
        ) from None


async def forward(
    request: web.Request, service: str, path: str | None = None, identity: dict[str, str] | None = None
) -> web.Response:
    """Pass a JSON API call through to a service and its answer back, unchanged.

    Only the body, the correlation id and the identity the gateway established travel upstream: a
    client's own headers (``X-CC-*`` included) never do.
    """
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    status, payload, headers = await call(request, service, request.method, path or request.path_qs, body, identity)
    content_type = headers.pop("Content-Type").split(";")[0]
    return web.Response(body=payload, status=status, headers=headers, content_type=content_type)
