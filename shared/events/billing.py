"""Events billing publishes. Money is integer minor units with an ISO currency."""

from uuid import UUID

from pydantic import BaseModel, Field

from shared.events import Event


class Money(BaseModel):
    amount: int
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class PaymentSucceeded(Event):
    routing_key = "billing.payment.succeeded"
    version = 1
    payment_id: UUID
    order_id: UUID
    invoice_id: UUID
    contact_id: UUID
    site_id: UUID
    product_id: UUID
    amount: Money


class PaymentFailed(Event):
    routing_key = "billing.payment.failed"
    version = 1
    payment_id: UUID
    order_id: UUID
    invoice_id: UUID
    contact_id: UUID
    site_id: UUID
    amount: Money
    reason: str
