"""Public and admin API routes served by membership."""

from urllib.parse import urlencode

from aiohttp import web

from services.gateway.identity import API_KEYS, authenticate_contact, forward_as_admin, forward_as_contact
from services.gateway.upstream import forward

routes = web.RouteTableDef()


@routes.post("/api/register")
async def register(request: web.Request) -> web.Response:
    return await forward(request, "membership")


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    return await forward_as_contact(request, "membership")


@routes.get("/api/can-open")
async def can_open(request: web.Request) -> web.Response:
    """``?page=/path``: may the logged-in contact open this page of their site? A host site asks on each
    view of a protected page; membership answers with one indexed query (``{page, protected, allowed}``;
    a path that is not a protected page is open). Only the token's site and contact are asked about."""
    contact = await authenticate_contact(request)
    query = urlencode({"page": request.query.get("page", "")})
    path = f"/internal/sites/{contact.site_id}/contacts/{contact.contact_id}/can-open?{query}"
    return await forward(request, "membership", path)


async def admin(request: web.Request) -> web.Response:
    return await forward_as_admin(request, "membership")


# Admin: site settings, contacts, custom fields, programs, levels, pages, rules, grants, access answers.
for method, path in (
    ("GET", "/admin/api/site"),
    ("PATCH", "/admin/api/site"),
    ("POST", "/admin/api/contacts"),
    ("GET", "/admin/api/contacts"),
    ("GET", "/admin/api/contacts/{contact_id}"),
    ("PATCH", "/admin/api/contacts/{contact_id}"),
    ("GET", "/admin/api/contacts/{contact_id}/access"),
    ("POST", "/admin/api/contacts/{contact_id}/grants"),
    ("DELETE", "/admin/api/contacts/{contact_id}/grants/{grant_id}"),
    ("POST", "/admin/api/fields"),
    ("GET", "/admin/api/fields"),
    ("POST", "/admin/api/programs"),
    ("GET", "/admin/api/programs"),
    ("POST", "/admin/api/levels"),
    ("GET", "/admin/api/levels"),
    ("POST", "/admin/api/pages"),
    ("GET", "/admin/api/pages"),
    ("PATCH", "/admin/api/pages/{page_id}"),
    ("POST", "/admin/api/rules"),
    ("GET", "/admin/api/rules"),
):
    routes.route(method, path)(admin)


# Admin: API keys. Revoking one here forgets every key this gateway cached, so it stops at once here
# (other gateways within their cache time, a minute).
@routes.get("/admin/api/api-keys")
@routes.post("/admin/api/api-keys")
async def api_keys(request: web.Request) -> web.Response:
    return await forward_as_admin(request, "membership")


@routes.delete("/admin/api/api-keys/{key_id}")
async def revoke_api_key(request: web.Request) -> web.Response:
    response = await forward_as_admin(request, "membership")
    if response.status == 204:
        request.app[API_KEYS].clear()
    return response
