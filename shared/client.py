"""Asking another service a synchronous question over its HTTP API (never reading its tables).

Every service app has one client session (``HTTP``). A service that is down or slow raises
``ServiceUnavailable`` naming it; the caller decides whether to degrade or fail.
"""

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from shared.errors import ServiceUnavailable
from shared.http import CORRELATION_HEADER
from shared.logging import get_logger
from structlog.contextvars import get_contextvars

log = get_logger("shared.client")

HTTP = web.AppKey("http_client", aiohttp.ClientSession)


async def http_client(app: web.Application):
    app[HTTP] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30))
    yield
    await app[HTTP].close()


async def ask(
    app: web.Application,
    service: str,
    method: str,
    path: str,
    *,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 3.0,
) -> tuple[int, Any]:
    """(status, decoded JSON body) of a call to another service; carries the correlation id."""
    from shared.app import SETTINGS

    url = app[SETTINGS].upstreams()[service].rstrip("/") + path
    sent = {CORRELATION_HEADER: str(get_contextvars().get("correlation_id", ""))}
    sent.update(headers or {})
    try:
        async with app[HTTP].request(
            method,
            url,
            data=None if body is None else json.dumps(body),
            headers={**sent, **({"Content-Type": "application/json"} if body is not None else {})},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            raw = await response.read()
            return response.status, json.loads(raw) if raw else None
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        log.warning("client.unavailable", service=service, path=path, error=type(exc).__name__)
        raise ServiceUnavailable(
            f"The {service} service is unavailable. Try again shortly.", details={"service": service}
        ) from None
