"""A site's public settings (name, language, theme, post-login page) from membership, cached briefly."""

import json
import re
import time

from aiohttp import web

from services.gateway.upstream import call
from shared.errors import NotFound, ServiceUnavailable

SITES = web.AppKey("sites", dict)
TTL = 5.0


class SiteNotFound(NotFound):
    code = "site_not_found"
    message = "No site by that name."


async def site_state(app: web.Application):
    app[SITES] = {}
    yield


async def site(request: web.Request, ref: str) -> dict:
    """By slug or id. 404 ``site_not_found`` when membership knows none; 503 when it cannot say."""
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", ref or ""):
        raise SiteNotFound()
    cache: dict = request.app[SITES]
    hit = cache.get(ref)
    if hit and time.monotonic() - hit[0] < TTL:
        return hit[1]
    status, payload, _ = await call(request, "membership", "GET", f"/internal/sites/{ref}/public")
    if status == 404:
        raise SiteNotFound()
    if status != 200:
        raise ServiceUnavailable("The membership service is unavailable.", details={"service": "membership"})
    answer = json.loads(payload)
    if len(cache) > 1000:
        cache.clear()
    cache[ref] = (time.monotonic(), answer)
    return answer
