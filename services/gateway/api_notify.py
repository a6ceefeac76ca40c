"""Admin API routes served by notify: templates, email settings, messages, sequences, webhooks."""

from aiohttp import web

from services.gateway.identity import forward_as_admin

routes = web.RouteTableDef()

_PATHS = (
    "/admin/api/templates",
    "/admin/api/templates/{name}",
    "/admin/api/templates/{name}/preview",
    "/admin/api/email-settings",
    "/admin/api/messages",
    "/admin/api/sequences",
    "/admin/api/sequences/run",
    "/admin/api/sequences/{id}",
    "/admin/api/sequences/{id}/enrolments",
    "/admin/api/sequences/{id}/enrolments/{contact_id}",
    "/admin/api/webhooks",
    "/admin/api/webhooks/{id}",
    "/admin/api/webhooks/{id}/deliveries",
    "/admin/api/webhooks/{id}/deliveries/{delivery_id}/replay",
)


async def to_notify(request: web.Request) -> web.Response:
    """Notify answers (including 405 for a method a path does not have)."""
    return await forward_as_admin(request, "notify")


for _path in _PATHS:
    routes.route("*", _path)(to_notify)
