"""The order form's server side: a new customer buys a product with a card the browser tokenised at
the payment processor (the card number never comes here).

1. The product must be one of the site's (billing) — checked before anyone is created.
2. Membership answers the buyer's contact: the site's contact with that email, or a new one
   (``membership.contact.created``).
3. Billing places the order for that contact, which the gateway vouches for: billing takes the
   contact's identity from this call rather than waiting for the event, so nothing races it. The
   first charge happens now; on a decline no order exists and the answer says why (402). The form's
   one-time key makes a resubmitted form answer the same order, never charge twice.
4. The payment's events grant the product's levels; the first grant brings the welcome email with the
   link to set a password.

``POST /api/checkout`` is the same for scripts: ``{site, product_id, email, first_name, last_name,
card_token, idempotency_key?}`` → 201 ``{order}``.
"""

import secrets
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.web.common import ask
from services.gateway.web.sites import site as site_of
from shared.errors import NotFound, ServiceError, ServiceUnavailable
from shared.http import read_body
from shared.logging import get_logger
from shared.validation import Email, Name

log = get_logger("gateway.checkout")
routes = web.RouteTableDef()


class ProductNotFound(NotFound):
    code = "product_not_found"
    message = "No such product on this site."


class CheckoutRefused(ServiceError):
    """A service's refusal, passed on with its status, code, message and details."""

    def __init__(self, status: int, body: dict) -> None:
        error = body.get("error") or {}
        super().__init__(error.get("message") or "The order could not be placed.", details=error.get("details") or {})
        self.status = status
        self.code = error.get("code") or "checkout_failed"


class CheckoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(min_length=1, max_length=64)
    product_id: UUID
    email: Email
    first_name: Name
    last_name: Name
    card_token: str = Field(min_length=1, max_length=100)
    idempotency_key: str | None = Field(None, min_length=8, max_length=200)


async def product(request: web.Request, site: dict, product_id: str) -> dict:
    try:
        wanted = UUID(product_id)
    except ValueError:
        raise ProductNotFound() from None
    answer = await ask(request, "billing", "GET", f"/internal/sites/{site['id']}/products")
    if not answer.ok:
        raise ServiceUnavailable("The billing service is unavailable.", details={"service": "billing"})
    for item in answer.body["products"]:
        if UUID(item["id"]) == wanted:
            return item
    raise ProductNotFound()


async def place(request: web.Request, site: dict, product: dict, *, email: str, first_name: str, last_name: str,
                card_token: str, idempotency_key: str) -> dict:
    """The order (billing's view of it); ``CheckoutRefused`` for a refusal (a decline, a bad field)."""
    contact = await ask(request, "membership", "POST", f"/internal/sites/{site['id']}/checkout-contacts",
                        {"email": email, "first_name": first_name, "last_name": last_name})
    if not contact.ok:
        raise CheckoutRefused(contact.status, contact.body)
    order = await ask(request, "billing", "POST", f"/internal/sites/{site['id']}/orders", {
        "contact": {"id": contact.body["contact_id"], "email": contact.body["email"],
                    "first_name": contact.body["first_name"], "last_name": contact.body["last_name"]},
        "product_id": product["id"], "card_token": card_token, "idempotency_key": idempotency_key,
    })
    if not order.ok:
        log.info("checkout.refused", product_id=product["id"], code=order.code)
        raise CheckoutRefused(order.status, order.body)
    log.info("checkout.ordered", order_id=order.body["order"]["id"], contact_id=contact.body["contact_id"])
    return order.body["order"]


@routes.post("/api/checkout")
async def checkout_api(request: web.Request) -> web.Response:
    body = await read_body(request, CheckoutIn)
    site = await site_of(request, body.site)
    item = await product(request, site, str(body.product_id))
    order = await place(request, site, item, email=body.email, first_name=body.first_name, last_name=body.last_name,
                        card_token=body.card_token, idempotency_key=body.idempotency_key or secrets.token_urlsafe(24))
    view = {k: order[k] for k in ("id", "product_id", "product_name", "kind", "price", "status", "next_billing_date")}
    return web.json_response({"order": view}, status=201)
