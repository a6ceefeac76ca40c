"""The gateway's own routes: health and readiness (the pages are in ``web/``)."""

import asyncio

from aiohttp import web

from services.gateway.upstream import call
from shared.app import SETTINGS
from shared.errors import ServiceUnavailable

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "service": "gateway"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when every service behind the gateway says it is ready."""
    services = list(request.app[SETTINGS].upstreams())

    async def ready(service: str) -> bool:
        try:
            status, _, _ = await asyncio.wait_for(call(request, service, "GET", "/readyz"), timeout=3)
            return status == 200
        except (ServiceUnavailable, asyncio.TimeoutError):
            return False

    results = dict(zip(services, await asyncio.gather(*(ready(s) for s in services))))
    ok = all(results.values())
    return web.json_response({"status": "ready" if ok else "unavailable", "checks": results}, status=200 if ok else 503)
