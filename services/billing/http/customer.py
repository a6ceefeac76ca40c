"""The Customer Center's billing: invoices, payments and receipts, orders, cards. Another contact's
object is simply not found (404)."""

from aiohttp import web

from services.billing import cards, orders
from services.billing import repository as repo
from services.billing.http.views import (
    card_view, ctx, invoice_view, order_view, page, paged, path_id, payment_view, respond,
)
from services.billing.receipt import render_receipt
from services.billing.schemas import CancelIn, CardIn, CardPatch, PayIn, PayOffIn
from shared.app import POOL
from shared.errors import InvalidRequest, NotFound
from shared.http import read_body
from shared.identity import contact_of

routes = web.RouteTableDef()


@routes.get("/api/invoices")
async def list_invoices(request: web.Request) -> web.Response:
    me = contact_of(request)
    status = request.query.get("status", "all")
    if status not in ("unpaid", "paid", "void", "all"):
        raise InvalidRequest("status must be unpaid, paid or all.", details={"fields": {"status": "unpaid|paid|all"}})
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repo.invoices_of(
            conn, me.contact_id, me.site_id, status=None if status == "all" else status, limit=limit, offset=offset
        )
    return respond(paged("invoices", [invoice_view(r) for r in rows], limit, offset))


@routes.post("/api/invoices/{id}/pay")
async def pay_invoice(request: web.Request) -> web.Response:
    me = contact_of(request)
    invoice_id = path_id(request)
    body = await read_body(request, PayIn)
    await cards.pay_invoice(ctx(request), me.site_id, me.contact_id, invoice_id, body.card_id)
    async with request.app[POOL].acquire() as conn:
        row = await repo.invoice(conn, invoice_id, me.contact_id, me.site_id)
    return respond({"invoice": invoice_view(row)})


@routes.get("/api/payments")
async def list_payments(request: web.Request) -> web.Response:
    me = contact_of(request)
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repo.payments_of(conn, me.contact_id, me.site_id, limit=limit, offset=offset)
    return respond(paged("payments", [payment_view(r) for r in rows], limit, offset))


@routes.get("/api/payments/{id}/receipt")
async def receipt(request: web.Request) -> web.Response:
    me = contact_of(request)
    async with request.app[POOL].acquire() as conn:
        payment = await repo.payment(conn, path_id(request), me.site_id, me.contact_id)
        contact = await repo.contact(conn, me.contact_id, me.site_id)
    if payment is None or payment["status"] == "failed":
        raise NotFound("No such payment.")
    return web.Response(text=render_receipt(payment, contact), content_type="text/html")


@routes.get("/api/orders")
async def list_orders(request: web.Request) -> web.Response:
    me = contact_of(request)
    limit, offset = page(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repo.orders_of(conn, me.contact_id, me.site_id, limit=limit, offset=offset, recurring_only=True)
    return respond(paged("orders", [order_view(r) for r in rows], limit, offset))


async def _order(request: web.Request, order_id) -> dict:
    me = contact_of(request)
    async with request.app[POOL].acquire() as conn:
        return order_view(await repo.order(conn, order_id, me.site_id, me.contact_id))


@routes.post("/api/orders/{id}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    me = contact_of(request)
    order_id = path_id(request)
    body = await read_body(request, CancelIn)
    await orders.cancel(ctx(request), me.site_id, order_id, body, contact_id=me.contact_id, by="contact")
    return respond({"order": await _order(request, order_id)})


@routes.post("/api/orders/{id}/pause")
async def pause_order(request: web.Request) -> web.Response:
    me = contact_of(request)
    order_id = path_id(request)
    await orders.pause(ctx(request), me.site_id, order_id, contact_id=me.contact_id)
    return respond({"order": await _order(request, order_id)})


@routes.post("/api/orders/{id}/resume")
async def resume_order(request: web.Request) -> web.Response:
    me = contact_of(request)
    order_id = path_id(request)
    await orders.resume(ctx(request), me.site_id, order_id, contact_id=me.contact_id)
    return respond({"order": await _order(request, order_id)})


@routes.post("/api/orders/{id}/pay-off")
async def pay_off(request: web.Request) -> web.Response:
    me = contact_of(request)
    order_id = path_id(request)
    body = await read_body(request, PayOffIn)
    invoice_id = await orders.pay_off(ctx(request), me.site_id, order_id, body.card_id, contact_id=me.contact_id)
    return respond({"order": await _order(request, order_id), "invoice_id": invoice_id})


async def cards_of(pool, contact_id, site_id) -> list[dict]:
    async with pool.acquire() as conn:
        rows = await repo.cards_of(conn, contact_id, site_id)
        using = await repo.open_orders_paid_by(conn, [r["id"] for r in rows])
    return [card_view(r, using) for r in rows]


@routes.get("/api/cards")
async def list_cards(request: web.Request) -> web.Response:
    me = contact_of(request)
    return respond({"cards": await cards_of(request.app[POOL], me.contact_id, me.site_id)})


@routes.post("/api/cards")
async def add_card(request: web.Request) -> web.Response:
    me = contact_of(request)
    body = await read_body(request, CardIn)
    card_id, settled, created = await cards.add_card(ctx(request), me.site_id, me.contact_id, body)
    [card] = [c for c in await cards_of(request.app[POOL], me.contact_id, me.site_id) if c["id"] == card_id]
    return respond({"card": card, "settled_invoices": settled}, status=201 if created else 200)


@routes.patch("/api/cards/{id}")
async def patch_card(request: web.Request) -> web.Response:
    me = contact_of(request)
    card_id = path_id(request)
    body = await read_body(request, CardPatch)
    await cards.set_fallback(ctx(request), me.site_id, me.contact_id, card_id, body.fallback_rank)
    [card] = [c for c in await cards_of(request.app[POOL], me.contact_id, me.site_id) if c["id"] == card_id]
    return respond({"card": card})


@routes.delete("/api/cards/{id}")
async def remove_card(request: web.Request) -> web.Response:
    me = contact_of(request)
    await cards.remove_card(ctx(request), me.site_id, me.contact_id, path_id(request))
    return web.Response(status=204)


@routes.post("/api/cards/{id}/use-for-all")
async def use_for_all(request: web.Request) -> web.Response:
    me = contact_of(request)
    card_id = path_id(request)
    moved = await cards.use_for_all(ctx(request), me.site_id, me.contact_id, card_id)
    async with request.app[POOL].acquire() as conn:
        moved_orders = await repo.orders_by_ids(conn, moved)
    [card] = [c for c in await cards_of(request.app[POOL], me.contact_id, me.site_id) if c["id"] == card_id]
    return respond({"card": card, "moved_orders": [order_view(o) for o in moved_orders]})
