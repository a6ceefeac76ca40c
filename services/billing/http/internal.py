from aiohttp import web

from services.billing import orders
from services.billing import repository as repo
from services.billing.http.views import ctx, order_view, path_id, product_view, respond
from services.billing.schemas import CheckoutOrderIn, OrderIn
from shared.app import POOL
from shared.http import read_body

routes = web.RouteTableDef()


@routes.get("/internal/sites/{site_id}/products")
async def list_products(request: web.Request) -> web.Response:
    site_id = path_id(request, "site_id")
    async with request.app[POOL].acquire() as conn:
        products = await repo.products_of_site(conn, site_id)
    return respond({"products": [product_view(p) for p in products]})


@routes.post("/internal/sites/{site_id}/orders")
async def place_checkout_order(request: web.Request) -> web.Response:
    """An order form's order for a contact the gateway vouches for: first charge now, no order on a
    decline (402 saying why); the same ``idempotency_key`` never charges twice."""
    site_id = path_id(request, "site_id")
    body = await read_body(request, CheckoutOrderIn)
    async with request.app[POOL].acquire() as conn:
        c = body.contact
        await repo.remember_vouched_contact(
            conn, contact_id=c.id, site_id=site_id, email=c.email, first_name=c.first_name, last_name=c.last_name
        )
    order = OrderIn(
        contact_id=body.contact.id, product_id=body.product_id, card_token=body.card_token,
        idempotency_key=f"checkout:{body.contact.id}:{body.idempotency_key}",
    )
    order_id, created = await orders.place_order(ctx(request), site_id, order)
    async with request.app[POOL].acquire() as conn:
        view = order_view(await repo.order(conn, order_id, site_id))
    return respond({"order": view}, status=201 if created else 200)
