"""Events billing publishes. Money is integer minor units with an ISO currency.

These are the contract membership and notify build against; billing may add fields (new fields
get defaults, so older consumers keep working), never change the meaning of one.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from shared.events import Event

ProductKind = Literal["one_time", "subscription", "payment_plan"]


class Money(BaseModel):
    amount: int
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class OrderCreated(Event):
    """An order was placed and its first charge succeeded."""

    routing_key = "billing.order.created"
    version = 1
    order_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    kind: ProductKind
    amount: Money
    created_at: datetime


class PaymentSucceeded(Event):
    routing_key = "billing.payment.succeeded"
    version = 1
    payment_id: UUID
    order_id: UUID
    invoice_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    kind: ProductKind
    amount: Money
    card_brand: str
    card_last4: str
    # The period this payment pays for: access lasts until period_end (None for one-time products).
    period_start: datetime
    period_end: datetime | None
    # 1 for the order's first payment; the installment number for payment plans.
    sequence: int
    paid_at: datetime


class PaymentFailed(Event):
    routing_key = "billing.payment.failed"
    version = 1
    payment_id: UUID
    order_id: UUID
    invoice_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    amount: Money
    card_brand: str
    card_last4: str
    reason: str
    attempt: int
    # When billing will try again; None after the last attempt (the order is then suspended).
    next_retry_at: datetime | None


class SubscriptionCancelled(Event):
    routing_key = "billing.subscription.cancelled"
    version = 1
    order_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    cancelled_by: Literal["contact", "admin", "system"]
    reason: str
    when: Literal["period_end", "now"]
    cancelled_at: datetime
    # Access to what the subscription paid for ends here (the paid period's end, or now).
    access_ends_at: datetime


class OrderSuspended(Event):
    """Every retry of a failed charge failed: the order stops, and access with it."""

    routing_key = "billing.order.suspended"
    version = 1
    order_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    reason: str
    suspended_at: datetime


class OrderCompleted(Event):
    """A payment plan's last installment was paid (access is kept)."""

    routing_key = "billing.order.completed"
    version = 1
    order_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    product_name: str
    installments_paid: int
    total: Money
    completed_at: datetime


class CardExpiryApproached(Event):
    """A card that pays open orders expires at the end of next month."""

    routing_key = "billing.card.expiry_approached"
    version = 1
    card_id: UUID
    contact_id: UUID
    site_id: UUID
    brand: str
    last4: str
    exp_month: int
    exp_year: int
