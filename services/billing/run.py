"""The billing run: opens the billing periods that have begun and charges what is due.

Several runs may go at once (replicas, the schedule, an admin's on-demand run, the CLI): due orders
and due invoices are claimed with ``FOR UPDATE SKIP LOCKED``, so each is handled by exactly one run;
the database allows one invoice per (order, period) and one payment per idempotency key; and the key
the processor sees is derived from (order, period, attempt), so even a run that crashed between the
charge and its commit charges nothing twice when the next run tries again.

``as_of`` is the run's "now": a test plays a year by running with later and later ``as_of``.
"""

import asyncio
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from uuid import UUID

import asyncpg

from services.billing import repository as repo
from services.billing.charging import OpenedInvoice, charge_rounds, record_rounds
from services.billing.domain import period_start
from services.billing.processor import PaymentProcessor
from shared.db import UnitOfWork, unit_of_work
from shared.events.billing import CardExpiryApproached
from shared.ids import uuid4s
from shared.logging import get_logger

log = get_logger("billing.run")


@dataclass
class RunSummary:
    as_of: str
    invoices_created: int = 0
    charged: int = 0
    succeeded: int = 0
    declined: int = 0
    transient: int = 0
    cancelled: int = 0
    expiring_cards: int = 0

    def dict(self) -> dict:
        return asdict(self)


class BillingRun:
    def __init__(self, pool: asyncpg.Pool, processor: PaymentProcessor, settings) -> None:
        self.pool = pool
        self.processor = processor
        self.settings = settings

    async def run(
        self, *, as_of: datetime | None = None, site_id: UUID | None = None, contact_id: UUID | None = None,
        correlation_id: str | None = None,
    ) -> RunSummary:
        as_of = as_of or datetime.now(timezone.utc)
        correlation_id = correlation_id or f"billing-run-{uuid.uuid4()}"
        summary = RunSummary(as_of=as_of.isoformat())
        log.info("billing_run.started", as_of=summary.as_of, site_id=str(site_id) if site_id else None)
        summary.expiring_cards = await self._announce_expiring_cards(as_of, site_id, contact_id, correlation_id)
        # An order owes at most one open invoice, so catching up on several periods goes period by
        # period: the next is opened once the last is paid.
        lanes = range(max(1, self.settings.billing_run_concurrency))
        for _ in range(10_000):
            billed = sum(await asyncio.gather(*(
                self._bill_due_orders(as_of, site_id, contact_id, correlation_id, summary) for _ in lanes
            )))
            retried = sum(await asyncio.gather(*(
                self._charge_due(as_of, site_id, contact_id, correlation_id, summary) for _ in lanes
            )))
            if not billed and not retried:
                break
        log.info("billing_run.finished", **summary.dict())
        return summary

    async def _announce_expiring_cards(self, as_of, site_id, contact_id, correlation_id) -> int:
        """``billing.card.expiry_approached`` once for each card paying open orders that expires at
        the end of next month, so the contact can add a new one before a renewal fails."""
        year, month = (as_of.year + 1, 1) if as_of.month == 12 else (as_of.year, as_of.month + 1)
        async with unit_of_work(self.pool, producer=self.settings.service, correlation_id=correlation_id) as uow:
            cards = await repo.mark_expiring_cards(
                uow.conn, year=year, month=month, now=as_of, site_id=site_id, contact_id=contact_id
            )
            for c in cards:
                await uow.publish(
                    CardExpiryApproached(
                        card_id=c["id"], contact_id=c["contact_id"], site_id=c["site_id"], brand=c["brand"],
                        last4=c["last4"], exp_month=c["exp_month"], exp_year=c["exp_year"],
                    )
                )
        return len(cards)

    async def _bill_due_orders(self, as_of, site_id, contact_id, correlation_id, summary) -> int:
        """Batch after batch of due orders, each batch in one transaction: claim the orders, open the
        period that has begun (the order moves on to the next), charge the new invoices and write
        them with their outcomes. A crash before the commit leaves nothing: the next run opens the
        same periods again, and their charges carry the same keys, so the processor replays any it
        already made."""
        total = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                orders = await repo.claim_due_orders(
                    conn, as_of=as_of, site_id=site_id, contact_id=contact_id, limit=self.settings.billing_run_batch
                )
                if not orders:
                    return total
                invoices, advances = await self._open_periods(conn, orders, summary)
                # The orders' advance goes to PostgreSQL while the processor charges the batch: the
                # two wait on different processes, and commit (or roll back) together all the same.
                await self._charge(
                    conn, invoices, as_of, correlation_id, summary, cards=_claimed_cards(orders),
                    meanwhile=lambda: repo.advance_orders(conn, advances),
                )
            total += len(orders)

    async def _open_periods(self, conn, orders, summary) -> tuple[list[OpenedInvoice], list[tuple]]:
        """Each order's period that has begun: its invoice (written by ``_charge``), and the order's
        advance to the next period (written by the caller; an order that ends at this period's end is
        cancelled here instead)."""
        invoices, advances = [], []
        for o, invoice_id in zip(orders, uuid4s(len(orders))):
            if o["cancel_at_period_end"]:
                await repo.update(conn, "orders", o["id"], status="cancelled", next_billing_at=None)
                summary.cancelled += 1
                continue
            index = o["periods_billed"]  # the period that has begun (0-based)
            end = period_start(o["anchor_at"], o["anchor_index"], index + 1, o["interval"], o["interval_count"])
            last = o["kind"] == "payment_plan" and index + 1 >= o["installments"]
            invoices.append(OpenedInvoice.of(
                order_id=o["id"], site_id=o["site_id"], contact_id=o["contact_id"], sequence=index + 1,
                period_start=o["next_billing_at"], period_end=end, amount=o["amount"], currency=o["currency"],
                product_id=o["product_id"], product_name=o["product_name"], kind=o["kind"],
                installments=o["installments"], card_id=o["card_id"], id=invoice_id,
            ))
            advances.append((o["id"], index + 1, None if last else end))
        summary.invoices_created += len(invoices)
        return invoices, advances

    async def _charge_due(self, as_of, site_id, contact_id, correlation_id, summary) -> int:
        """Unpaid invoices whose retry is due (after a decline or a transient error), batch by batch."""
        total = 0
        while True:
            async with self.pool.acquire() as conn, conn.transaction():
                invoices = await repo.claim_chargeable_invoices(
                    conn, as_of=as_of, site_id=site_id, contact_id=contact_id, limit=self.settings.billing_run_batch
                )
                if not invoices:
                    return total
                await self._charge(conn, invoices, as_of, correlation_id, summary)
            total += len(invoices)

    async def _charge(
        self, conn, invoices, as_of, correlation_id, summary, *, cards: dict | None = None, meanwhile=None
    ) -> None:
        """Charge a batch of invoices (locked by the caller's transaction, or just opened) together at
        the processor, and record every outcome in that transaction. ``cards``: the orders' cards by
        id, when the caller read them already. ``meanwhile()``: a statement of the same transaction,
        run on ``conn`` while the processor answers."""
        if not invoices:
            if meanwhile is not None:
                await meanwhile()
            return
        order_cards = cards if cards is not None else await repo.cards_by_ids(
            conn, list({inv["card_id"] for inv in invoices if inv["card_id"] is not None})
        )
        card_lists = [await self._cards_for(conn, inv, order_cards) for inv in invoices]
        charging = charge_rounds(self.processor, list(zip(invoices, card_lists)))
        if meanwhile is None:
            rounds = await charging
        else:
            rounds, _ = await _both(charging, meanwhile())
        uow = UnitOfWork(conn, producer=self.settings.service, correlation_id=correlation_id, causation_id=None)
        outcomes = await record_rounds(uow, list(zip(invoices, rounds)), as_of, settings=self.settings, scheduled=True)
        for outcome in outcomes:
            setattr(summary, outcome, getattr(summary, outcome) + 1)
        summary.charged += len(outcomes)

    async def _cards_for(self, conn, inv, order_cards: dict) -> list:
        """The order's card (from ``order_cards``, the batch's cards read at once); on a retry, then
        the contact's fallback cards in order."""
        cards = []
        if inv["card_id"] is not None:
            card = order_cards.get(inv["card_id"])
            if card is not None and card["removed_at"] is None:
                cards.append(card)
        if inv["failures"] > 0 or not cards:
            cards += await repo.fallback_cards(conn, inv["contact_id"], inv["card_id"])
        return cards


def _claimed_cards(orders) -> dict:
    """The cards paying the claimed orders (``claim_due_orders`` reads them with the orders), by id,
    with the columns charging reads (as ``cards_by_ids`` would give them)."""
    return {
        o["card_id"]: {
            "id": o["card_id"], "token": o["card_token"], "brand": o["card_brand"], "last4": o["card_last4"],
            "removed_at": o["card_removed_at"],
        }
        for o in orders if o["card_id"] is not None and o["card_token"] is not None
    }


async def _both(first, second) -> tuple:
    """Both awaitables' results, once both have ended (neither is left running on the connection
    when the other fails): the first exception, if any, is raised then."""
    results = await asyncio.gather(first, second, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return tuple(results)


async def scheduled_billing_run(app):
    """``cleanup_ctx``: runs the billing every ``billing_run_interval_seconds`` (0: off)."""
    from services.billing.app_keys import BILLING_RUN
    from shared.app import SETTINGS

    interval = app[SETTINGS].billing_run_interval_seconds
    task = None
    if interval > 0:

        async def loop():
            while True:
                await asyncio.sleep(interval)
                try:
                    await app[BILLING_RUN].run()
                except Exception:
                    log.exception("billing_run.failed")

        task = asyncio.create_task(loop(), name="billing-run-schedule")
    yield
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
