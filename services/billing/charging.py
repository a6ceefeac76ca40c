"""Charging a card for an invoice and recording what happened, the same way wherever the charge
starts (an order form, the billing run, a contact paying an unpaid invoice).

The state change and its events commit together (``UnitOfWork``). Charges carry an idempotency key
derived from (order, billing period, attempt); the processor returns the same charge for the same key,
and the database refuses a second payment row for it, so a repeated attempt is never a second charge.
"""

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.metrics import BILLING_CHARGES
from services.billing import repository as repo
from services.billing.domain import PaymentRefused, idempotency_key, retry_at
from services.billing.processor import ChargeRequest, ChargeResult, PaymentProcessor
from shared.db import UnitOfWork
from shared.events.billing import Money, OrderCompleted, OrderSuspended, PaymentFailed, PaymentSucceeded
from shared.ids import uuid4s
from shared.logging import get_logger

log = get_logger("billing.charging")


NO_CARD = {"id": None, "token": "", "brand": "none", "last4": "0000"}


class OpenedInvoice(dict):
    """An invoice opened in this transaction and not written yet, with what charging it needs to know
    of its order: ``record_*`` write it once its charge's outcome is known, paid or unpaid, in one
    INSERT (rather than an INSERT, then an UPDATE of the same row)."""

    @classmethod
    def of(
        cls, *, order_id: UUID, site_id: UUID, contact_id: UUID, sequence: int, period_start: datetime,
        period_end: datetime | None, amount: int, currency: str, product_id: UUID, product_name: str, kind: str,
        installments: int | None, card_id: UUID | None = None, covers: int = 1, id: UUID | None = None,
    ) -> "OpenedInvoice":
        return cls(
            id=id or uuid.uuid4(), order_id=order_id, site_id=site_id, contact_id=contact_id, sequence=sequence,
            covers=covers, period_start=period_start, period_end=period_end, amount=amount, currency=currency,
            status="unpaid", charge_attempts=0, failures=0, transient_errors=0, first_failed_at=None,
            next_attempt_at=period_start, last_error=None, created_at=period_start, paid_at=None,
            card_id=card_id, product_id=product_id, product_name=product_name, kind=kind, order_status="active",
            installments=installments,
        )


@dataclass(frozen=True)
class Attempt:
    card: asyncpg.Record
    key: str
    result: ChargeResult


async def charge_once(
    processor: PaymentProcessor, *, token: str, amount: int, currency: str, key: str, description: str,
    immediate_retries: int = 0,
) -> ChargeResult:
    """One charge; transient errors retried at once with the SAME key (never a second charge)."""
    request = ChargeRequest(token=token, amount=amount, currency=currency, idempotency_key=key, description=description)
    [result] = await charge_all(processor, [request], immediate_retries=immediate_retries)
    return result


async def charge_all(
    processor: PaymentProcessor, requests: list[ChargeRequest], *, immediate_retries: int = 0
) -> list[ChargeResult]:
    """Many charges at once (a batch at the processor), each with its own key and outcome. One with
    no clear answer is asked about by its key (``resolve_uncertain``); still unknown, it is retried
    at once ``immediate_retries`` times with the SAME key (never a second charge)."""
    results = [ChargeResult("succeeded") if r.amount == 0 else None for r in requests]
    todo = [i for i, r in enumerate(requests) if r.amount != 0]
    for retry in range(immediate_retries + 1):
        if not todo:
            break
        if retry:
            await asyncio.sleep(0.2 * retry)
        answers = await processor.charge_many([requests[i] for i in todo])
        unsure = [(i, a) for i, a in zip(todo, answers) if a.outcome == "error"]
        resolved = await asyncio.gather(*(resolve_uncertain(processor, requests[i].idempotency_key, a) for i, a in unsure))
        for i, answer in zip(todo, answers):
            results[i] = answer
        for (i, _), answer in zip(unsure, resolved):
            results[i] = answer
        for outcome, n in Counter(results[i].outcome for i in todo).items():
            BILLING_CHARGES.labels(result=outcome).inc(n)
        todo = [i for i in todo if results[i].outcome == "error"]
    return results  # type: ignore[return-value]


async def resolve_uncertain(processor: PaymentProcessor, key: str, result: ChargeResult) -> ChargeResult:
    """A charge request that got no clear answer (the response was lost, the processor failed) may
    have charged the card: ask the processor what it recorded under the key (as Kill Bill's janitor
    does) instead of charging again. Still unknown: the error stands, and a later attempt asks again
    with the same key."""
    found = await processor.find_charge(key)
    if found is None or found.outcome == "error":
        return result
    log.info("charge.resolved_by_lookup", outcome=found.outcome, charge_id=found.charge_id)
    return found


async def charge_cards(
    processor: PaymentProcessor, inv, cards: list, *, immediate_retries: int = 0
) -> list[Attempt]:
    """One round: try the cards in order until one succeeds or a transient error stops the round."""
    [attempts] = await charge_rounds(processor, [(inv, cards)], immediate_retries=immediate_retries)
    return attempts


async def charge_rounds(
    processor: PaymentProcessor, rounds: list[tuple], *, immediate_retries: int = 0
) -> list[list[Attempt]]:
    """A round for each (invoice, cards), all charged together: every invoice's first card in one
    batch, then the next card of those declined, and so on (``charge_cards``, for many)."""
    attempts: list[list[Attempt]] = [[] for _ in rounds]
    pending = []
    for i, (inv, cards) in enumerate(rounds):
        if cards:
            pending.append(i)
        else:
            key = idempotency_key(inv["order_id"], inv["sequence"], inv["charge_attempts"] + 1)
            attempts[i].append(Attempt(NO_CARD, key, ChargeResult("declined", code="no_card", message="No card to charge.")))
    position = 0
    while pending:
        requests = []
        for i in pending:
            inv, cards = rounds[i]
            card = cards[position]
            requests.append(ChargeRequest(
                token=card["token"], amount=inv["amount"], currency=inv["currency"],
                idempotency_key=idempotency_key(inv["order_id"], inv["sequence"], inv["charge_attempts"] + 1, card["id"]),
                description=f"{inv['product_name']} #{inv['sequence']}",
            ))
        results = await charge_all(processor, requests, immediate_retries=immediate_retries)
        for i, request, result in zip(pending, requests, results):
            attempts[i].append(Attempt(rounds[i][1][position], request.idempotency_key, result))
        position += 1
        pending = [i for i, result in zip(pending, results) if result.outcome == "declined" and position < len(rounds[i][1])]
    return attempts


def _payment_row(inv, attempt: Attempt, payment_id: UUID, now: datetime) -> tuple:
    ok = attempt.result.outcome == "succeeded"
    return (
        payment_id, inv["id"], inv["order_id"], inv["site_id"], inv["contact_id"], attempt.card["id"], inv["amount"],
        inv["currency"], "succeeded" if ok else "failed", attempt.key, attempt.result.charge_id,
        None if ok else attempt.result.code, None if ok else attempt.result.message, now,
    )


async def _insert_failed_payment(uow: UnitOfWork, inv, attempt: Attempt, now: datetime) -> UUID | None:
    """The payment row of one failed charge. One already recorded under its key (a round retried
    after a transient error replays its declines) is not recorded twice: None."""
    payment_id = uuid.uuid4()
    recorded = await repo.insert_payments(uow.conn, [_payment_row(inv, attempt, payment_id, now)], failed=True)
    return payment_id if recorded else None


async def record(uow: UnitOfWork, inv, attempts: list[Attempt], now: datetime, *, settings, scheduled: bool) -> str:
    """Write the outcome of a round of attempts on an invoice; returns succeeded/declined/transient."""
    [outcome] = await record_rounds(uow, [(inv, attempts)], now, settings=settings, scheduled=scheduled)
    return outcome


async def record_rounds(uow: UnitOfWork, rounds: list[tuple], now: datetime, *, settings, scheduled: bool) -> list[str]:
    """``record`` for each (invoice, attempts), in one transaction; the successes are written
    together (a statement per table for the whole batch)."""
    unpaid = [inv for inv, attempts in rounds if attempts[-1].result.outcome != "succeeded"]
    await repo.insert_invoices(uow.conn, [inv for inv in unpaid if isinstance(inv, OpenedInvoice)])
    outcomes, paid, declined_before_success = [], [], []
    for inv, attempts in rounds:
        final = attempts[-1]
        declined = [a for a in attempts if a.result.outcome == "declined"]
        ended_rounds = inv["charge_attempts"] + 1
        if final.result.outcome == "succeeded":
            paid.append((inv, final, ended_rounds))
            declined_before_success += [(inv, attempt) for attempt in declined]
            outcomes.append("succeeded")
            continue
        failed_payments = [await _insert_failed_payment(uow, inv, attempt, now) for attempt in declined]
        if final.result.outcome == "error":
            transient = inv["transient_errors"] + 1
            if not scheduled:
                await repo.update(uow.conn, "invoices", inv["id"], last_error=final.result.code)
                outcomes.append("transient")
                continue
            if transient <= settings.transient_retries:
                # The round stays open: the retry uses the same keys.
                await repo.update(
                    uow.conn, "invoices", inv["id"], transient_errors=transient, last_error=final.result.code,
                    next_attempt_at=now + timedelta(seconds=settings.transient_retry_seconds),
                )
                log.info("invoice.transient_error", invoice_id=str(inv["id"]), code=final.result.code)
                outcomes.append("transient")
                continue
            # Too many transient errors in a row: the round ends as failed.
            failed_payments.append(await _insert_failed_payment(uow, inv, final, now))
            declined.append(final)
        payment_id = next((p for p in reversed(failed_payments) if p is not None), None) or uuid.uuid4()
        await record_failure(
            uow, inv, declined[-1], payment_id, now, settings=settings, scheduled=scheduled, charge_attempts=ended_rounds
        )
        outcomes.append("declined")
    await record_successes(uow, paid, now)
    for inv, attempt in declined_before_success:  # after their invoice is written
        await _insert_failed_payment(uow, inv, attempt, now)
    return outcomes


async def record_success(uow: UnitOfWork, inv, attempt: Attempt, now: datetime, *, charge_attempts: int) -> UUID:
    [payment_id] = await record_successes(uow, [(inv, attempt, charge_attempts)], now)
    return payment_id


async def record_successes(uow: UnitOfWork, paid: list[tuple], now: datetime) -> list[UUID]:
    """For each (invoice, successful attempt, rounds ended): the invoice paid (written paid when it is
    an ``OpenedInvoice``), its payment, the order active again if it was behind,
    ``billing.payment.succeeded``, and a payment plan's completion; a statement per table for them all."""
    if not paid:
        return []
    conn = uow.conn
    opened = []
    for inv, _, rounds in paid:
        if isinstance(inv, OpenedInvoice):  # not written yet: written paid
            inv.update(status="paid", paid_at=now, next_attempt_at=None, charge_attempts=rounds)
            opened.append(inv)
    await repo.insert_invoices(conn, opened)
    await repo.mark_invoices_paid(
        conn, [(inv["id"], rounds) for inv, _, rounds in paid if not isinstance(inv, OpenedInvoice)], paid_at=now
    )
    payment_ids = uuid4s(len(paid))
    await repo.insert_payments(conn, [_payment_row(inv, attempt, pid, now) for pid, (inv, attempt, _) in zip(payment_ids, paid)])
    behind = [inv["order_id"] for inv, _, _ in paid if inv["order_status"] in ("past_due", "suspended")]
    if behind:
        await repo.reactivate_orders(conn, behind)
    await uow.publish_all([
        PaymentSucceeded(
            payment_id=payment_id, order_id=inv["order_id"], invoice_id=inv["id"], contact_id=inv["contact_id"],
            site_id=inv["site_id"], product_id=inv["product_id"], product_name=inv["product_name"],
            kind=inv["kind"], amount=Money(amount=inv["amount"], currency=inv["currency"]),
            card_brand=attempt.card["brand"], card_last4=attempt.card["last4"], period_start=inv["period_start"],
            period_end=inv["period_end"], sequence=inv["sequence"], paid_at=now,
        )
        for payment_id, (inv, attempt, _) in zip(payment_ids, paid)
    ])
    for inv, _, _ in paid:
        if inv["kind"] == "payment_plan":
            await _complete_if_paid_off(uow, inv, now)
    if len(paid) == 1:
        log.info("payment.succeeded", payment_id=str(payment_ids[0]), invoice_id=str(paid[0][0]["id"]))
    else:
        log.info("payments.succeeded", count=len(paid))
    return payment_ids


async def _complete_if_paid_off(uow: UnitOfWork, inv, now: datetime) -> None:
    conn = uow.conn
    paid = await repo.paid_periods(conn, inv["order_id"])
    if paid < inv["installments"]:
        return
    total = await conn.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM invoices WHERE order_id = $1 AND status = 'paid'", inv["order_id"]
    )
    await repo.update(
        conn, "orders", inv["order_id"], status="completed", completed_at=now, next_billing_at=None,
        periods_billed=inv["installments"],
    )
    await uow.publish(
        OrderCompleted(
            order_id=inv["order_id"], contact_id=inv["contact_id"], site_id=inv["site_id"],
            product_id=inv["product_id"], product_name=inv["product_name"], installments_paid=paid,
            total=Money(amount=total, currency=inv["currency"]), completed_at=now,
        )
    )
    log.info("order.completed", order_id=str(inv["order_id"]))


async def record_failure(
    uow: UnitOfWork, inv, attempt: Attempt, payment_id: UUID, now: datetime, *, settings, scheduled: bool,
    charge_attempts: int,
) -> None:
    """A failed charge: the invoice stays unpaid. A scheduled attempt moves the dunning schedule on
    (retry on the configured days, then suspension); a contact's own attempt leaves it as it was."""
    conn = uow.conn
    failures, next_retry = inv["failures"], inv["next_attempt_at"]
    if scheduled:
        failures += 1
        first_failed_at = inv["first_failed_at"] or now
        next_retry = retry_at(first_failed_at, failures, settings.retry_days)
        await repo.update(
            conn, "invoices", inv["id"], charge_attempts=charge_attempts, failures=failures,
            first_failed_at=first_failed_at, next_attempt_at=next_retry, transient_errors=0,
            last_error=attempt.result.code,
        )
        if next_retry is None:
            await repo.update(conn, "orders", inv["order_id"], status="suspended", suspended_at=now)
        elif inv["order_status"] == "active":
            await repo.update(conn, "orders", inv["order_id"], status="past_due")
    else:
        await repo.update(conn, "invoices", inv["id"], charge_attempts=charge_attempts, last_error=attempt.result.code)
    await uow.publish(
        PaymentFailed(
            payment_id=payment_id, order_id=inv["order_id"], invoice_id=inv["id"], contact_id=inv["contact_id"],
            site_id=inv["site_id"], product_id=inv["product_id"], product_name=inv["product_name"],
            amount=Money(amount=inv["amount"], currency=inv["currency"]), card_brand=attempt.card["brand"],
            card_last4=attempt.card["last4"], reason=attempt.result.code or "declined",
            attempt=max(failures, 1), next_retry_at=next_retry,
        )
    )
    log.info("payment.failed", payment_id=str(payment_id), invoice_id=str(inv["id"]), code=attempt.result.code)
    if scheduled and next_retry is None:
        await uow.publish(
            OrderSuspended(
                order_id=inv["order_id"], contact_id=inv["contact_id"], site_id=inv["site_id"],
                product_id=inv["product_id"], product_name=inv["product_name"],
                reason=f"payment failed {failures} times: {attempt.result.code}", suspended_at=now,
            )
        )
        log.info("order.suspended", order_id=str(inv["order_id"]))


def refusal(attempt: Attempt) -> PaymentRefused:
    r = attempt.result
    if r.outcome == "error":
        return PaymentRefused(
            "processing_error", "The payment processor could not complete the charge. Try again shortly.",
            details={"retryable": True},
        )
    return PaymentRefused(r.code or "card_declined", r.message or "The card was declined.", details={"retryable": False})
