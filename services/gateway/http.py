"""The gateway's own routes: health, readiness and the pages that are not an area's."""

import asyncio
import json

from aiohttp import web

from services.gateway.pages import render
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


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return render("index.html", title="Customer Center")


@routes.get("/password/set")
async def set_password_page(request: web.Request) -> web.Response:
    """Shows the form and consumes nothing: mail scanners that open links do no harm."""
    token = request.query.get("token", "")
    return render("set_password.html", title="Set your password", token=token, error=None)


@routes.post("/password/set")
async def set_password_form(request: web.Request) -> web.Response:
    form = await request.post()
    token, password, confirm = (str(form.get(k, "")) for k in ("token", "new_password", "confirm_password"))
    if password != confirm:
        return render("set_password.html", status=422, title="Set your password", token=token,
                      error="The two passwords do not match.")
    body = json.dumps({"token": token, "new_password": password}).encode()
    status, payload, _ = await call(request, "auth", "POST", "/api/password/set", body)
    answer = json.loads(payload or b"{}")
    if status != 200:
        message = answer.get("error", {}).get("message", "The password could not be set.")
        return render("set_password.html", status=status, title="Set your password", token=token, error=message)
    return render("password_set.html", title="Password set", username=answer["username"], site=answer["site"])
