"""Billing's HTTP API. The foundation lists a site's products; the billing issue adds the rest."""

from uuid import UUID

from aiohttp import web

from services.billing import repository as repo
from shared.app import POOL
from shared.errors import NotFound

routes = web.RouteTableDef()


@routes.get("/internal/sites/{site_id}/products")
async def list_products(request: web.Request) -> web.Response:
    try:
        site_id = UUID(request.match_info["site_id"])
    except ValueError:
        raise NotFound() from None
    async with request.app[POOL].acquire() as conn:
        products = await repo.products_of_site(conn, site_id)
    return web.json_response(
        {
            "products": [
                {
                    "id": str(p.id),
                    "name": p.name,
                    "kind": p.kind,
                    "price": {"amount": p.amount, "currency": p.currency},
                    "interval": p.interval,
                    "interval_count": p.interval_count,
                    "installments": p.installments,
                }
                for p in products
            ]
        }
    )
