"""Charging a card for an invoice and recording what happened, the same way wherever the charge
starts (an order form, the billing run, a contact paying an unpaid invoice).

The state change and its events commit together (``UnitOfWork``). Charges carry an idempotency key
derived from (order, billing period, attempt); the processor returns the same charge for the same key,
and the database refuses a second payment row for it, so a repeated attempt is never a second charge.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from shared.metrics import BILLING_CHARGES
from services.billing import repository as repo
from services.billing.domain import PaymentRefused, idempotency_key, retry_at
from services.billing.processor import ChargeResult, PaymentProcessor
from shared.db import UnitOfWork
from shared.events.billing import Money, OrderCompleted, OrderSuspended, PaymentFailed, PaymentSucceeded
from shared.logging import get_logger

log = get_logger("billing.charging")


NO_CARD = {"id": None, "token": "", "brand": "none", "last4": "0000"}


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
    if amount == 0:
        return ChargeResult("succeeded")
    for retry in range(immediate_retries + 1):
        result = await processor.charge(
            token=token, amount=amount, currency=currency, idempotency_key=key, description=description
        )
        if result.outcome == "error":
            result = await resolve_uncertain(processor, key, result)
        BILLING_CHARGES.labels(result=result.outcome).inc()
        if result.outcome != "error" or retry == immediate_retries:
            return result
        await asyncio.sleep(0.2 * (retry + 1))
    raise AssertionError("unreachable")


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
    attempts: list[Attempt] = []
    round_ = inv["charge_attempts"] + 1
    if not cards:
        key = idempotency_key(inv["order_id"], inv["sequence"], round_)
        return [Attempt(NO_CARD, key, ChargeResult("declined", code="no_card", message="No card to charge."))]
    for card in cards:
        key = idempotency_key(inv["order_id"], inv["sequence"], round_, card["id"])
        result = await charge_once(
            processor, token=card["token"], amount=inv["amount"], currency=inv["currency"], key=key,
            description=f"{inv['product_name']} #{inv['sequence']}", immediate_retries=immediate_retries,
        )
        attempts.append(Attempt(card, key, result))
        if result.outcome != "declined":
            break
    return attempts


async def _insert_payment(uow: UnitOfWork, inv, attempt: Attempt, now: datetime) -> UUID | None:
    """The payment row of one charge. A failed one already recorded under its key (a round retried
    after a transient error replays its declines) is not recorded twice: None."""
    payment_id = uuid.uuid4()
    ok = attempt.result.outcome == "succeeded"
    inserted = await repo.insert_payment(
        uow.conn,
        id=payment_id, invoice_id=inv["id"], order_id=inv["order_id"], site_id=inv["site_id"],
        contact_id=inv["contact_id"], card_id=attempt.card["id"], amount=inv["amount"], currency=inv["currency"],
        status="succeeded" if ok else "failed", idempotency_key=attempt.key, charge_id=attempt.result.charge_id,
        failure_code=None if ok else attempt.result.code, failure_message=None if ok else attempt.result.message,
        created_at=now,
    )
    return payment_id if inserted else None


async def record(uow: UnitOfWork, inv, attempts: list[Attempt], now: datetime, *, settings, scheduled: bool) -> str:
    """Write the outcome of a round of attempts on an invoice; returns succeeded/declined/transient."""
    final = attempts[-1]
    declined = [a for a in attempts if a.result.outcome == "declined"]
    failed_payments = [await _insert_payment(uow, inv, attempt, now) for attempt in declined]
    ended_rounds = inv["charge_attempts"] + 1
    if final.result.outcome == "succeeded":
        await record_success(uow, inv, final, now, charge_attempts=ended_rounds)
        return "succeeded"
    if final.result.outcome == "error":
        transient = inv["transient_errors"] + 1
        if not scheduled:
            await repo.update(uow.conn, "invoices", inv["id"], last_error=final.result.code)
            return "transient"
        if transient <= settings.transient_retries:
            # The round stays open: the retry uses the same keys.
            await repo.update(
                uow.conn, "invoices", inv["id"], transient_errors=transient, last_error=final.result.code,
                next_attempt_at=now + timedelta(seconds=settings.transient_retry_seconds),
            )
            log.info("invoice.transient_error", invoice_id=str(inv["id"]), code=final.result.code)
            return "transient"
        # Too many transient errors in a row: the round ends as failed.
        failed_payments.append(await _insert_payment(uow, inv, final, now))
        declined.append(final)
    payment_id = next((p for p in reversed(failed_payments) if p is not None), None) or uuid.uuid4()
    await record_failure(
        uow, inv, declined[-1], payment_id, now, settings=settings, scheduled=scheduled, charge_attempts=ended_rounds
    )
    return "declined"


async def record_success(uow: UnitOfWork, inv, attempt: Attempt, now: datetime, *, charge_attempts: int) -> UUID:
    conn = uow.conn
    payment_id = await _insert_payment(uow, inv, attempt, now)
    await repo.update(
        conn, "invoices", inv["id"], status="paid", paid_at=now, next_attempt_at=None,
        charge_attempts=charge_attempts, last_error=None,
    )
    if inv["order_status"] in ("past_due", "suspended"):
        await repo.update(conn, "orders", inv["order_id"], status="active", suspended_at=None)
    card = attempt.card
    await uow.publish(
        PaymentSucceeded(
            payment_id=payment_id, order_id=inv["order_id"], invoice_id=inv["id"], contact_id=inv["contact_id"],
            site_id=inv["site_id"], product_id=inv["product_id"], product_name=inv["product_name"],
            kind=inv["kind"], amount=Money(amount=inv["amount"], currency=inv["currency"]),
            card_brand=card["brand"], card_last4=card["last4"], period_start=inv["period_start"],
            period_end=inv["period_end"], sequence=inv["sequence"], paid_at=now,
        )
    )
    if inv["kind"] == "payment_plan":
        paid = await repo.paid_periods(conn, inv["order_id"])
        if paid >= inv["installments"]:
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
    log.info("payment.succeeded", payment_id=str(payment_id), invoice_id=str(inv["id"]))
    return payment_id


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
