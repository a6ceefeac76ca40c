"""Public API routes served by auth."""

from aiohttp import web

from services.gateway.upstream import forward

routes = web.RouteTableDef()


@routes.post("/api/password/set")
async def set_password(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    return await forward(request, "auth")
