"""Public, customer and admin API routes served by auth."""

from aiohttp import web

from services.gateway.identity import REVOKED, authenticate_contact, forward_as_admin, forward_as_contact
from services.gateway.upstream import forward

routes = web.RouteTableDef()


@routes.post("/api/password/set")
async def set_password(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.post("/api/password/forgot")
async def forgot_password(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.post("/api/token/refresh")
async def refresh(request: web.Request) -> web.Response:
    return await forward(request, "auth")


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    """The session's access tokens stop working here at once (other gateways within a poll)."""
    contact = await authenticate_contact(request)
    response = await forward(request, "auth", identity=contact.headers())
    if response.status == 200:
        request.app[REVOKED].revoke_now(contact.session_id)
    return response


@routes.put("/api/account/username")
async def change_username(request: web.Request) -> web.Response:
    return await forward_as_contact(request, "auth")


@routes.put("/api/account/password")
async def change_password(request: web.Request) -> web.Response:
    return await forward_as_contact(request, "auth")


@routes.post("/admin/api/contacts/{contact_id}/resend-credentials")
async def resend_credentials(request: web.Request) -> web.Response:
    return await forward_as_admin(request, "auth")


@routes.get("/.well-known/jwks.json")
async def jwks(request: web.Request) -> web.Response:
    return await forward(request, "auth")
