"""Cards (processor tokens only) and paying invoices with them.

"Use this card" moves every open subscription and payment plan of the contact to the card; a card
that pays an open order cannot be removed; adding a card while an invoice is unpaid settles it.
"""

import uuid
from datetime import datetime, timezone
from uuid import UUID

from services.billing import repository as repo
from services.billing.charging import charge_cards, record, refusal
from services.billing.context import Ctx
from services.billing.domain import CardInUse, CardTokenInvalid, InvoiceNotPayable, PaymentRefused, not_found
from services.billing.schemas import CardIn
from shared.db import unit_of_work
from shared.logging import get_logger

log = get_logger("billing.cards")


async def add_card(ctx: Ctx, site_id: UUID, contact_id: UUID, body: CardIn) -> tuple[UUID, list[UUID], bool]:
    """(card id, invoices it settled, created?). The card pays any unpaid invoice at once; an order
    whose invoice it paid is paid by it from then on."""
    details = await ctx.processor.card(body.token)
    if details is None:
        raise CardTokenInvalid(details={"fields": {"token": "unknown to the payment processor"}})
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        # The gateway vouched for this contact; membership.contact.created may just not have arrived yet.
        await repo.ensure_contact(uow.conn, contact_id=contact_id, site_id=site_id)
        existing = await repo.card_by_token(uow.conn, contact_id, details.token)
        if existing is not None:
            card_id, created = existing["id"], False
        else:
            card = await repo.insert_card(
                uow.conn, card_id=uuid.uuid4(), site_id=site_id, contact_id=contact_id, details=details,
                fallback_rank=body.fallback_rank,
            )
            card_id, created = card["id"], True
        unpaid = await repo.unpaid_invoice_ids(uow.conn, contact_id, site_id)
    log.info("card.added", card_id=str(card_id), brand=details.brand)
    settled = []
    for invoice_id in unpaid:
        try:
            await pay_invoice(ctx, site_id, contact_id, invoice_id, card_id, move_order=True)
            settled.append(invoice_id)
        except (PaymentRefused, InvoiceNotPayable):
            pass
    return card_id, settled, created


async def pay_invoice(
    ctx: Ctx, site_id: UUID, contact_id: UUID, invoice_id: UUID, card_id: UUID, *, move_order: bool = False
) -> UUID:
    """The contact pays an unpaid invoice now: paid, the pending retries are cancelled, the order is
    active again. A decline is recorded and answered with 402 saying why; the retries stay as they were."""
    now = datetime.now(timezone.utc)
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        inv = await repo.invoice_for_charge(uow.conn, invoice_id, contact_id, site_id)
        if inv is None:
            raise not_found("invoice")
        if inv["status"] != "unpaid" or inv["order_status"] in ("cancelled", "completed"):
            raise InvoiceNotPayable()
        card = await repo.card(uow.conn, card_id, contact_id, site_id)
        if card is None:
            raise not_found("card")
        attempts = await charge_cards(ctx.processor, inv, [card], immediate_retries=2)
        outcome = await record(uow, inv, attempts, now, settings=ctx.settings, scheduled=False)
        if outcome == "succeeded" and move_order:
            await repo.update(uow.conn, "orders", inv["order_id"], card_id=card_id)
    if outcome != "succeeded":
        raise refusal(attempts[-1])
    return invoice_id


async def use_for_all(ctx: Ctx, site_id: UUID, contact_id: UUID, card_id: UUID) -> list[UUID]:
    """This card becomes the default and pays every open subscription and payment plan: the orders moved."""
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        if await repo.card(uow.conn, card_id, contact_id, site_id) is None:
            raise not_found("card")
        await repo.make_default(uow.conn, contact_id, card_id)
        moved = await repo.move_open_orders(uow.conn, contact_id, site_id, card_id)
    log.info("card.used_for_all", card_id=str(card_id), moved=len(moved))
    return moved


async def remove_card(ctx: Ctx, site_id: UUID, contact_id: UUID, card_id: UUID) -> None:
    async with unit_of_work(ctx.pool, producer=ctx.producer, correlation_id=ctx.correlation_id) as uow:
        card = await repo.card(uow.conn, card_id, contact_id, site_id)
        if card is None:
            raise not_found("card")
        await uow.conn.execute("SELECT id FROM orders WHERE contact_id = $1 FOR UPDATE", contact_id)
        using = await repo.open_orders_paid_by(uow.conn, [card_id])
        if using:
            raise CardInUse(
                f"This card pays {len(using)} open order(s): "
                + ", ".join(o["product_name"] for o in using)
                + ". Move them to another card first.",
                details={"orders": [{"id": str(o["id"]), "product_name": o["product_name"]} for o in using]},
            )
        await repo.update(uow.conn, "cards", card_id, removed_at=datetime.now(timezone.utc), is_default=False, fallback_rank=None)
        if card["is_default"]:
            await repo.make_default(uow.conn, contact_id, await repo.newest_card(uow.conn, contact_id))
    log.info("card.removed", card_id=str(card_id))


async def set_fallback(ctx: Ctx, site_id: UUID, contact_id: UUID, card_id: UUID, rank: int | None) -> None:
    async with ctx.pool.acquire() as conn:
        if await repo.card(conn, card_id, contact_id, site_id) is None:
            raise not_found("card")
        await repo.update(conn, "cards", card_id, fallback_rank=rank)
