"""Orders: placing one (first charge now), changing, cancelling, pausing, resuming, paying off."""

import uuid
from datetime import datetime, timezone
from uuid import UUID

import asyncpg

from services.billing import repository as repo
from services.billing.charging import Attempt, OpenedInvoice, charge_once, record_success, refusal
from services.billing.context import Ctx
from services.billing.domain import (
    CardTokenInvalid, OrderStateConflict, idempotency_key, not_found, period_start,
)
from services.billing.schemas import CancelIn, OrderIn, OrderPatch
from shared import audit
from shared.db import unit_of_work
from shared.identity import AdminSite
from shared.events.billing import Money, OrderCreated, SubscriptionCancelled
from shared.logging import get_logger

log = get_logger("billing.orders")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def audited(o) -> dict:
    """An order as an audit entry shows it: the card by brand and last digits (never its token)."""
    return {
        "product": o["product_name"], "status": o["status"],
        "card": f"{o['card_brand']} ending in {o['card_last4']}" if o["card_id"] else None,
        "next_billing_date": o["next_billing_at"], "cancel_at_period_end": o["cancel_at_period_end"],
        "cancel_reason": o["cancel_reason"], "paused_at": o["paused_at"], "access_ends_at": o["access_ends_at"],
    }


async def _audit(uow, admin: AdminSite | None, action: str, site_id: UUID, order_id: UUID, before) -> None:
    """An admin's change of an order, in its transaction (a customer's own changes are not audited)."""
    if admin is None:
        return
    after = await repo.order(uow.conn, order_id, site_id)
    await audit.record(uow.conn, admin, action, "order", order_id, contact_id=after["contact_id"],
                       before=audited(before) if before is not None else None, after=audited(after))


ORDER_KEYS = uuid.UUID("0b7f4a52-5d0e-4c59-9a43-6f1f3e7c2b10")


async def place_order(ctx: Ctx, site_id: UUID, body: OrderIn, *, admin: AdminSite | None = None) -> tuple[UUID, bool]:
    """As an order form would: charge the first period now; the order exists only if that succeeded.

    Returns (order id, created). With ``idempotency_key`` the order id, and so the charge's key, are
    derived from it: a retried request (after a timeout, a crash) answers the same order and the
    processor replays the same charge, never a second one.
    """
    order_id = uuid.uuid5(ORDER_KEYS, f"{site_id}:{body.idempotency_key}") if body.idempotency_key else uuid.uuid4()
    async with ctx.pool.acquire() as conn:
        if await repo.contact(conn, body.contact_id, site_id) is None:
            raise not_found("contact")
        product = await repo.product(conn, body.product_id, site_id)
        if product is None:
            raise not_found("product")
        if body.idempotency_key and await repo.order(conn, order_id, site_id) is not None:
            return order_id, False
    details = await ctx.processor.card(body.card_token)
    if details is None:
        raise CardTokenInvalid(details={"fields": {"card_token": "unknown to the payment processor"}})
    invoice_id, now = uuid.uuid4(), _now()
    key = idempotency_key(order_id, 1, 1)
    result = await charge_once(
        ctx.processor, token=details.token, amount=product.amount, currency=product.currency, key=key,
        description=f"{product.name} #1", immediate_retries=2,
    )
    if result.outcome != "succeeded":
        log.info("order.refused", product_id=str(product.id), code=result.code)
        raise refusal(Attempt({}, key, result))
    try:
        await _record_order(ctx, site_id, body, product, details, order_id, invoice_id, key, result, now, admin)
    except asyncpg.UniqueViolationError:
        if body.idempotency_key:  # the same request, concurrently: it recorded the order first
            return order_id, False
        raise
    except BaseException:
        # Charged but not recorded. With a key the client's retry records it (the charge is replayed);
        # without one nobody could, so the money goes back.
        if not body.idempotency_key and result.charge_id:
            refund = await ctx.processor.refund(charge_id=result.charge_id, amount=product.amount, idempotency_key=f"refund:{key}")
            log.error("order.not_recorded_charge_refunded", order_id=str(order_id), refunded=refund.ok)
        raise
    log.info("order.created", order_id=str(order_id), product_id=str(product.id))
    return order_id, True


async def _record_order(ctx: Ctx, site_id, body: OrderIn, product, details, order_id, invoice_id, key, result, now,
                        admin: AdminSite | None) -> None:
    recurring = product.kind != "one_time"
    period_end = period_start(now, 0, 1, product.interval, product.interval_count) if recurring else None
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        card = await repo.card_by_token(uow.conn, body.contact_id, details.token) or await repo.insert_card(
            uow.conn, card_id=uuid.uuid4(), site_id=site_id, contact_id=body.contact_id, details=details,
            fallback_rank=None,
        )
        await repo.insert_order(
            uow.conn, id=order_id, site_id=site_id, contact_id=body.contact_id, product_id=product.id,
            product_name=product.name, kind=product.kind, amount=product.amount, currency=product.currency,
            interval=product.interval, interval_count=product.interval_count, installments=product.installments,
            status="active", card_id=card["id"], anchor_at=now, periods_billed=1, next_billing_at=period_end,
            created_at=now,
        )
        inv = OpenedInvoice.of(
            id=invoice_id, order_id=order_id, site_id=site_id, contact_id=body.contact_id, sequence=1,
            period_start=now, period_end=period_end, amount=product.amount, currency=product.currency,
            product_id=product.id, product_name=product.name, kind=product.kind, installments=product.installments,
        )
        await record_success(uow, inv, Attempt(card, key, result), now, charge_attempts=1)
        await uow.publish(
            OrderCreated(
                order_id=order_id, contact_id=body.contact_id, site_id=site_id, product_id=product.id,
                product_name=product.name, kind=product.kind,
                amount=Money(amount=product.amount, currency=product.currency), created_at=now,
            )
        )
        await _audit(uow, admin, "order.created", site_id, order_id, None)


async def patch_order(ctx: Ctx, site_id: UUID, order_id: UUID, body: OrderPatch, *, admin: AdminSite | None = None) -> None:
    """The admin's change of ONE order: its card, its next billing date. Other orders stay as they are."""
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        order = await repo.order(uow.conn, order_id, site_id, lock=True)
        if order is None:
            raise not_found("order")
        if body.card_id is not None:
            if await repo.card(uow.conn, body.card_id, order["contact_id"], site_id) is None:
                raise not_found("card")
            await repo.update(uow.conn, "orders", order_id, card_id=body.card_id)
        if body.next_billing_date is not None:
            if order["kind"] == "one_time" or order["status"] not in ("active", "past_due", "paused"):
                raise OrderStateConflict("Only an open subscription or payment plan has a next billing date.")
            # The new date anchors the schedule from here on (anniversaries counted from it).
            await repo.update(
                uow.conn, "orders", order_id, anchor_at=body.next_billing_date,
                anchor_index=order["periods_billed"], next_billing_at=body.next_billing_date,
            )
        await _audit(uow, admin, "order.changed", site_id, order_id, order)
    log.info("order.changed", order_id=str(order_id), card=body.card_id is not None, date=body.next_billing_date is not None)


async def cancel(ctx: Ctx, site_id: UUID, order_id: UUID, body: CancelIn, *, contact_id: UUID | None, by: str,
                 admin: AdminSite | None = None) -> None:
    now = _now()
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        # Invoices before the order: the same lock order as the billing run's, so the two never deadlock.
        await repo.lock_invoices_of_order(uow.conn, order_id)
        order = await repo.order(uow.conn, order_id, site_id, contact_id, lock=True)
        if order is None:
            raise not_found("order")
        if order["kind"] != "subscription":
            raise OrderStateConflict("Only a subscription can be cancelled.")
        if order["status"] not in ("active", "past_due", "paused") or order["cancel_at_period_end"]:
            raise OrderStateConflict("This subscription is not open.")
        # What has been paid for is kept until its period ends; an unpaid period is not owed any more.
        paid_until = await uow.conn.fetchval(
            "SELECT max(period_end) FROM invoices WHERE order_id = $1 AND status = 'paid'", order_id
        )
        await repo.void_unpaid_invoices(uow.conn, order_id)
        if body.at == "now" or order["status"] != "active":
            access_ends_at = now
            await repo.update(
                uow.conn, "orders", order_id, status="cancelled", next_billing_at=None, cancelled_at=now,
                cancelled_by=by, cancel_reason=body.reason, access_ends_at=now,
            )
        else:
            access_ends_at = max(paid_until or now, now)
            await repo.update(
                uow.conn, "orders", order_id, cancel_at_period_end=True, cancelled_at=now, cancelled_by=by,
                cancel_reason=body.reason, access_ends_at=access_ends_at,
            )
        await uow.publish(
            SubscriptionCancelled(
                order_id=order_id, contact_id=order["contact_id"], site_id=site_id, product_id=order["product_id"],
                product_name=order["product_name"], cancelled_by=by, reason=body.reason, when=body.at,
                cancelled_at=now, access_ends_at=access_ends_at,
            )
        )
        await _audit(uow, admin, "order.cancelled", site_id, order_id, order)
    log.info("subscription.cancelled", order_id=str(order_id), when=body.at, by=by)


async def pause(ctx: Ctx, site_id: UUID, order_id: UUID, *, contact_id: UUID | None, admin: AdminSite | None = None) -> None:
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        order = await repo.order(uow.conn, order_id, site_id, contact_id, lock=True)
        if order is None:
            raise not_found("order")
        if order["kind"] != "subscription" or order["status"] != "active" or order["cancel_at_period_end"]:
            raise OrderStateConflict("Only an active subscription can be paused.")
        await repo.update(uow.conn, "orders", order_id, status="paused", paused_at=_now())
        await _audit(uow, admin, "order.paused", site_id, order_id, order)
    log.info("subscription.paused", order_id=str(order_id))


async def resume(ctx: Ctx, site_id: UUID, order_id: UUID, *, contact_id: UUID | None, admin: AdminSite | None = None) -> None:
    """Nothing was charged while paused; the next billing date moves on by the time it was paused."""
    now = _now()
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        order = await repo.order(uow.conn, order_id, site_id, contact_id, lock=True)
        if order is None:
            raise not_found("order")
        if order["status"] != "paused":
            raise OrderStateConflict("This subscription is not paused.")
        next_at = order["next_billing_at"] + (now - order["paused_at"])
        await repo.update(
            uow.conn, "orders", order_id, status="active", paused_at=None, anchor_at=next_at,
            anchor_index=order["periods_billed"], next_billing_at=next_at,
        )
        await _audit(uow, admin, "order.resumed", site_id, order_id, order)
    log.info("subscription.resumed", order_id=str(order_id))


async def pay_off(ctx: Ctx, site_id: UUID, order_id: UUID, card_id: UUID | None, *, contact_id: UUID) -> UUID:
    """A payment plan's remaining installments, paid now in one invoice; the plan completes."""
    now = _now()
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        order = await repo.order(uow.conn, order_id, site_id, contact_id, lock=True)
        if order is None:
            raise not_found("order")
        if order["kind"] != "payment_plan" or order["status"] != "active":
            raise OrderStateConflict("Only an active payment plan can be paid off.")
        if await uow.conn.fetchval("SELECT true FROM invoices WHERE order_id = $1 AND status = 'unpaid'", order_id):
            raise OrderStateConflict("Pay the unpaid installment first.")
        card = await repo.card(uow.conn, card_id or order["card_id"], contact_id, site_id)
        if card is None:
            raise not_found("card")
        left = order["installments"] - order["periods_billed"]
        if left <= 0:
            raise OrderStateConflict("Nothing is left to pay.")
        sequence = order["periods_billed"] + 1
        key = idempotency_key(order_id, sequence, 1, card["id"]) + ":payoff"
        amount = left * order["amount"]
        result = await charge_once(
            ctx.processor, token=card["token"], amount=amount, currency=order["currency"], key=key,
            description=f"{order['product_name']}: remaining {left} installments", immediate_retries=2,
        )
        if result.outcome != "succeeded":
            raise refusal(Attempt(card, key, result))
        inv = OpenedInvoice.of(
            order_id=order_id, site_id=site_id, contact_id=contact_id, sequence=sequence, covers=left,
            period_start=now, period_end=None, amount=amount, currency=order["currency"],
            product_id=order["product_id"], product_name=order["product_name"], kind="payment_plan",
            installments=order["installments"],
        )
        await record_success(uow, inv, Attempt(card, key, result), now, charge_attempts=1)
    log.info("payment_plan.paid_off", order_id=str(order_id))
    return inv["id"]

