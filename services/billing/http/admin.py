"""The business's billing: products, orders placed as an order form would, one order's changes, a
contact's purchases, refunds, the billing run on demand. Every call acts on the API key's site."""

import uuid

from aiohttp import web

from services.billing import orders
from services.billing import repository as repo
from services.billing.app_keys import BILLING_RUN
from services.billing.domain import OrderStateConflict, Product, not_found
from services.billing.http.views import (
    card_view, ctx, invoice_view, order_view, page, paged, path_id, payment_view, product_view, respond,
)
from services.billing.schemas import CancelIn, OrderIn, OrderPatch, ProductIn, RunIn
from shared import audit
from shared.app import POOL
from shared.db import unit_of_work
from shared.http import read_body
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("billing.admin")
routes = web.RouteTableDef()


@routes.post("/admin/api/products")
async def create_product(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    body = await read_body(request, ProductIn)
    product = Product(
        id=uuid.uuid4(), site_id=site.site_id, name=body.name, kind=body.kind, amount=body.price.amount,
        currency=body.price.currency, interval=body.interval, interval_count=body.interval_count,
        installments=body.installments,
    )
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await repo.upsert_product(conn, product)
        await audit.record(conn, site, "product.created", "product", product.id, after=product_view(product))
    log.info("product.created", product_id=str(product.id), kind=product.kind)
    return respond({"product": product_view(product)}, status=201)


@routes.get("/admin/api/products")
async def list_products(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        products = await repo.products_of_site(conn, site.site_id, limit=limit, offset=offset)
    return respond(paged("products", [product_view(p) for p in products], limit, offset))


async def _order(request: web.Request, order_id) -> dict:
    async with request.app[POOL].acquire() as conn:
        return order_view(await repo.order(conn, order_id, admin_site_of(request).site_id))


@routes.post("/admin/api/orders")
async def place_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    body = await read_body(request, OrderIn)
    order_id, created = await orders.place_order(ctx(request), site.site_id, body, admin=site)
    return respond({"order": await _order(request, order_id)}, status=201 if created else 200)


@routes.get("/admin/api/orders/{id}")
async def get_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    async with request.app[POOL].acquire() as conn:
        order = await repo.order(conn, path_id(request), site.site_id)
    if order is None:
        raise not_found("order")
    return respond({"order": order_view(order)})


@routes.patch("/admin/api/orders/{id}")
async def patch_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    order_id = path_id(request)
    body = await read_body(request, OrderPatch)
    await orders.patch_order(ctx(request), site.site_id, order_id, body, admin=site)
    return respond({"order": await _order(request, order_id)})


@routes.post("/admin/api/orders/{id}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    order_id = path_id(request)
    body = await read_body(request, CancelIn)
    await orders.cancel(ctx(request), site.site_id, order_id, body, contact_id=None, by="admin", admin=site)
    return respond({"order": await _order(request, order_id)})


@routes.post("/admin/api/orders/{id}/pause")
async def pause_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    order_id = path_id(request)
    await orders.pause(ctx(request), site.site_id, order_id, contact_id=None, admin=site)
    return respond({"order": await _order(request, order_id)})


@routes.post("/admin/api/orders/{id}/resume")
async def resume_order(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    order_id = path_id(request)
    await orders.resume(ctx(request), site.site_id, order_id, contact_id=None, admin=site)
    return respond({"order": await _order(request, order_id)})


@routes.get("/admin/api/contacts/{id}/purchases")
async def purchases(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    contact_id = path_id(request)
    async with request.app[POOL].acquire() as conn:
        if await repo.contact(conn, contact_id, site.site_id) is None:
            raise not_found("contact")
        order_rows = await repo.orders_of(conn, contact_id, site.site_id, limit=200, offset=0)
        invoice_rows = await repo.invoices_of(conn, contact_id, site.site_id, status=None, limit=200, offset=0)
        payment_rows = await repo.payments_of(conn, contact_id, site.site_id, limit=200, offset=0)
        card_rows = await repo.cards_of(conn, contact_id, site.site_id)
        using = await repo.open_orders_paid_by(conn, [c["id"] for c in card_rows])
    return respond({
        "contact_id": contact_id,
        "orders": [order_view(o) for o in order_rows],
        "invoices": [invoice_view(i) for i in invoice_rows],
        "payments": [payment_view(p) for p in payment_rows],
        "cards": [card_view(c, using) for c in card_rows],
    })


@routes.post("/admin/api/payments/{id}/refund")
async def refund(request: web.Request) -> web.Response:
    """A full refund of a succeeded payment, through the processor (idempotent per payment)."""
    c = ctx(request)
    site = admin_site_of(request)
    payment_id = path_id(request)
    async with unit_of_work(c.pool, producer=c.producer, correlation_id=c.correlation_id) as uow:
        payment = await repo.payment(uow.conn, payment_id, site.site_id)
        if payment is None:
            raise not_found("payment")
        if payment["status"] != "succeeded" or payment["processor_charge_id"] is None:
            raise OrderStateConflict("Only a succeeded payment can be refunded.")
        result = await c.processor.refund(
            charge_id=payment["processor_charge_id"], amount=payment["amount"], idempotency_key=f"refund:{payment_id}"
        )
        if not result.ok:
            raise OrderStateConflict(f"The processor refused the refund ({result.code}).")
        await repo.refund_payment(uow.conn, payment_id, payment["amount"])
        await audit.record(uow.conn, site, "payment.refunded", "payment", payment_id, contact_id=payment["contact_id"],
                           before=_audited_payment(payment),
                           after=_audited_payment(await repo.payment(uow.conn, payment_id, site.site_id)))
    log.info("payment.refunded", payment_id=str(payment_id))
    async with c.pool.acquire() as conn:
        return respond({"payment": payment_view(await repo.payment(conn, payment_id, site.site_id))})


@routes.post("/admin/api/billing/run")
async def billing_run(request: web.Request) -> web.Response:
    site = admin_site_of(request)
    body = await read_body(request, RunIn) if request.can_read_body else RunIn()
    summary = await request.app[BILLING_RUN].run(
        as_of=body.as_of, site_id=site.site_id, contact_id=body.contact_id, correlation_id=request["correlation_id"]
    )
    async with request.app[POOL].acquire() as conn:  # the run is many transactions: its entry follows them
        await audit.record(conn, site, "billing.run", "billing_run", None, after=summary.dict())
    return respond({"run": summary.dict()})


def _audited_payment(p) -> dict:
    return {"status": p["status"], "amount": p["amount"], "amount_refunded": p["amount_refunded"],
            "currency": p["currency"]}
