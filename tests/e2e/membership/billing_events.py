"""Billing's events, built as billing publishes them (the contract in shared/events/billing.py)."""

import uuid
from datetime import datetime, timedelta, timezone

from shared.events.billing import Money, OrderCompleted, OrderSuspended, PaymentSucceeded, SubscriptionCancelled


def payment_succeeded(site_id, contact_id, product_id, *, order_id=None, paid_at=None, period_days: int | None = 30, sequence: int = 1) -> PaymentSucceeded:
    paid_at = paid_at or datetime.now(timezone.utc)
    return PaymentSucceeded(
        payment_id=uuid.uuid4(),
        order_id=order_id or uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        contact_id=contact_id,
        site_id=site_id,
        product_id=product_id,
        product_name="Course",
        kind="subscription" if period_days else "one_time",
        amount=Money(amount=2900, currency="USD"),
        card_brand="visa",
        card_last4="4242",
        period_start=paid_at,
        period_end=paid_at + timedelta(days=period_days) if period_days else None,
        sequence=sequence,
        paid_at=paid_at,
    )


def subscription_cancelled(paid: PaymentSucceeded, *, reason: str, when: str = "period_end", by: str = "contact") -> SubscriptionCancelled:
    now = datetime.now(timezone.utc)
    return SubscriptionCancelled(
        order_id=paid.order_id,
        contact_id=paid.contact_id,
        site_id=paid.site_id,
        product_id=paid.product_id,
        product_name=paid.product_name,
        cancelled_by=by,
        reason=reason,
        when=when,
        cancelled_at=now,
        access_ends_at=paid.period_end if when == "period_end" else now,
    )


def order_suspended(paid: PaymentSucceeded) -> OrderSuspended:
    return OrderSuspended(
        order_id=paid.order_id,
        contact_id=paid.contact_id,
        site_id=paid.site_id,
        product_id=paid.product_id,
        product_name=paid.product_name,
        reason="card declined on every retry",
        suspended_at=datetime.now(timezone.utc),
    )


def order_completed(paid: PaymentSucceeded) -> OrderCompleted:
    return OrderCompleted(
        order_id=paid.order_id,
        contact_id=paid.contact_id,
        site_id=paid.site_id,
        product_id=paid.product_id,
        product_name=paid.product_name,
        installments_paid=3,
        total=Money(amount=9000, currency="USD"),
        completed_at=datetime.now(timezone.utc),
    )
