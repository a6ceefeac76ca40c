"""Billing's rules. Pure: no I/O. Grows with the billing issue (orders, invoices, the billing run)."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Kind = Literal["one_time", "subscription", "payment_plan"]
Interval = Literal["week", "month", "year"]


@dataclass(frozen=True)
class Product:
    id: UUID
    site_id: UUID
    name: str
    kind: Kind
    amount: int
    currency: str
    interval: Interval | None = None
    interval_count: int | None = None
    installments: int | None = None

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("amount must not be negative")
        if (self.kind == "one_time") != (self.interval is None):
            raise ValueError("only recurring products have an interval")
        if (self.kind == "payment_plan") != (self.installments is not None):
            raise ValueError("only payment plans have installments")
