"""Public, customer and admin API routes served by billing, and the sandbox processor's card form
endpoint (the card number goes from the browser to the processor, never to billing)."""

from aiohttp import web

from services.gateway.identity import forward_as_admin, forward_as_contact
from services.gateway.upstream import forward

routes = web.RouteTableDef()

CUSTOMER = [
    ("GET", "/api/invoices"),
    ("POST", "/api/invoices/{id}/pay"),
    ("GET", "/api/payments"),
    ("GET", "/api/payments/{id}/receipt"),
    ("GET", "/api/orders"),
    ("POST", "/api/orders/{id}/cancel"),
    ("POST", "/api/orders/{id}/pause"),
    ("POST", "/api/orders/{id}/resume"),
    ("POST", "/api/orders/{id}/pay-off"),
    ("GET", "/api/cards"),
    ("POST", "/api/cards"),
    ("PATCH", "/api/cards/{id}"),
    ("DELETE", "/api/cards/{id}"),
    ("POST", "/api/cards/{id}/use-for-all"),
]
ADMIN = [
    ("GET", "/admin/api/products"),
    ("POST", "/admin/api/products"),
    ("POST", "/admin/api/orders"),
    ("GET", "/admin/api/orders/{id}"),
    ("PATCH", "/admin/api/orders/{id}"),
    ("POST", "/admin/api/orders/{id}/cancel"),
    ("POST", "/admin/api/orders/{id}/pause"),
    ("POST", "/admin/api/orders/{id}/resume"),
    ("GET", "/admin/api/contacts/{id}/purchases"),
    ("POST", "/admin/api/payments/{id}/refund"),
    ("POST", "/admin/api/billing/run"),
]


async def as_contact(request: web.Request) -> web.Response:
    return await forward_as_contact(request, "billing")


async def as_admin(request: web.Request) -> web.Response:
    return await forward_as_admin(request, "billing")


for method, path in CUSTOMER:
    routes.route(method, path)(as_contact)
for method, path in ADMIN:
    routes.route(method, path)(as_admin)


@routes.post("/sandbox/v1/tokens")
async def tokenise_card(request: web.Request) -> web.Response:
    return await forward(request, "sandbox")
