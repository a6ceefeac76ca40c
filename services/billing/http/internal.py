from aiohttp import web

from services.billing import repository as repo
from services.billing.http.views import path_id, product_view, respond
from shared.app import POOL

routes = web.RouteTableDef()


@routes.get("/internal/sites/{site_id}/products")
async def list_products(request: web.Request) -> web.Response:
    site_id = path_id(request, "site_id")
    async with request.app[POOL].acquire() as conn:
        products = await repo.products_of_site(conn, site_id)
    return respond({"products": [product_view(p) for p in products]})
