"""Public and admin API routes served by membership."""

from aiohttp import web

from services.gateway.identity import forward_as_admin, forward_as_contact
from services.gateway.upstream import forward

routes = web.RouteTableDef()


@routes.post("/api/register")
async def register(request: web.Request) -> web.Response:
    return await forward(request, "membership")


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return await forward_as_contact(request, "membership")


@routes.get("/admin/api/site")
async def site(request: web.Request) -> web.Response:
    return await forward_as_admin(request, "membership")
