"""Request bodies of billing's HTTP API (responses are built in ``http/views.py``)."""

from datetime import datetime, timezone
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.billing import Money


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc) if value is not None else None


class ProductIn(Body):
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["one_time", "subscription", "payment_plan"]
    price: Money
    interval: Literal["week", "month", "year"] | None = None
    interval_count: int | None = Field(None, ge=1, le=365)
    installments: int | None = Field(None, ge=2, le=120)

    @field_validator("price")
    @classmethod
    def _non_negative(cls, v: Money) -> Money:
        if v.amount < 0:
            raise ValueError("the price must not be negative")
        return v

    @model_validator(mode="after")
    def _terms(self) -> "ProductIn":
        if self.kind == "one_time":
            if self.interval or self.interval_count or self.installments:
                raise ValueError("a one-time product has no interval or installments")
        else:
            if self.interval is None:
                raise ValueError(f"a {self.kind.replace('_', ' ')} needs an interval")
            self.interval_count = self.interval_count or 1
            if self.kind == "payment_plan" and self.installments is None:
                raise ValueError("a payment plan needs installments")
            if self.kind == "subscription" and self.installments is not None:
                raise ValueError("a subscription has no installments")
        return self


class OrderIn(Body):
    contact_id: UUID
    product_id: UUID
    card_token: str = Field(min_length=1, max_length=100)
    # The same key again answers the same order and never charges twice (a retried order form).
    idempotency_key: str | None = Field(None, min_length=1, max_length=200)


class VouchedContact(Body):
    id: UUID
    email: str = Field(min_length=1, max_length=254)
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)


class CheckoutOrderIn(Body):
    """The gateway's order form: the contact as membership just answered for it (billing may not have
    its membership.contact.created yet), the product, the processor's card token."""

    contact: VouchedContact
    product_id: UUID
    card_token: str = Field(min_length=1, max_length=100)
    idempotency_key: str = Field(min_length=1, max_length=200)


class OrderPatch(Body):
    card_id: UUID | None = None
    next_billing_date: datetime | None = None

    _utc = field_validator("next_billing_date")(lambda cls, v: _utc(v))

    @model_validator(mode="after")
    def _something(self) -> "OrderPatch":
        if self.card_id is None and self.next_billing_date is None:
            raise ValueError("give card_id, next_billing_date or both")
        return self


class CancelIn(Body):
    reason: str = Field(min_length=1, max_length=500)
    at: Literal["period_end", "now"] = "period_end"


class CardIn(Body):
    token: str = Field(min_length=1, max_length=100)
    # Tried in this order when a retry on an order's own card fails (None: not a fallback card).
    fallback_rank: int | None = Field(None, ge=1, le=100)


class CardPatch(Body):
    fallback_rank: int | None = Field(None, ge=1, le=100)


class PayIn(Body):
    card_id: UUID


class PayOffIn(Body):
    card_id: UUID | None = None


class RunIn(Body):
    as_of: datetime | None = None
    # Only this contact's orders (e.g. to bill one customer now); the admin's whole site otherwise.
    contact_id: UUID | None = None

    _utc = field_validator("as_of")(lambda cls, v: _utc(v))
