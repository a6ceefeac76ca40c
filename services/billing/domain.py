"""Billing's rules. Pure: no I/O. Money is integer minor units with an ISO currency."""

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from shared.errors import Conflict, InvalidRequest, NotFound, ServiceError

Kind = Literal["one_time", "subscription", "payment_plan"]
Interval = Literal["week", "month", "year"]
OPEN_STATUSES = ("active", "past_due", "paused")
RECURRING = ("subscription", "payment_plan")


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


# --- the calendar -------------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole months, the day clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    y, m = divmod(moment.month - 1 + months, 12)
    year, month = moment.year + y, m + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_start(anchor: datetime, anchor_index: int, index: int, interval: Interval, count: int) -> datetime:
    """Start of period ``index``: always counted from the anchor, so a clamped month does not drift
    (Jan 31 → Feb 28 → Mar 31, never Mar 28)."""
    steps = (index - anchor_index) * count
    if interval == "week":
        return anchor + timedelta(weeks=steps)
    if interval == "month":
        return add_months(anchor, steps)
    return add_months(anchor, 12 * steps)


def retry_at(first_failed_at: datetime, failures: int, retry_days: list[float]) -> datetime | None:
    """When to try again after the ``failures``-th failure of an invoice; None after the last one."""
    if failures > len(retry_days):
        return None
    return first_failed_at + timedelta(days=retry_days[failures - 1])


def idempotency_key(order_id: UUID, sequence: int, attempt: int, card_id: UUID | None = None) -> str:
    """One key per (order, billing period, attempt round, card): charging it again is the same charge.

    A round ends with a success or with every card declined; a transient error leaves the round open,
    so its retry reuses the very same keys (a charge whose answer was lost is replayed, not repeated).
    """
    key = f"order:{order_id}:period:{sequence}:attempt:{attempt}"
    return f"{key}:card:{card_id}" if card_id is not None else key


def format_money(amount: int, currency: str) -> str:
    sign = "-" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    text = f"{whole:,}.{cents:02d}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def installments_summary(paid: int, total: int, amount: int, currency: str) -> str:
    return f"{paid} of {total} paid, {format_money((total - paid) * amount, currency)} left"


# --- errors -------------------------------------------------------------------------------------


class PaymentRefused(ServiceError):
    """The processor refused the charge; ``code`` says why (card_declined, insufficient_funds, processing_error)."""

    status = 402
    code = "card_declined"

    def __init__(self, code: str, message: str, *, details: dict | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code


class CardTokenInvalid(InvalidRequest):
    code = "card_token_invalid"
    message = "The card token is not known to the payment processor."


class CardInUse(Conflict):
    code = "card_in_use"
    message = "This card pays open orders: move them to another card first."


class InvoiceNotPayable(Conflict):
    code = "invoice_not_payable"
    message = "This invoice is not unpaid."


class OrderStateConflict(Conflict):
    code = "order_state_conflict"


def not_found(what: str) -> NotFound:
    return NotFound(f"No such {what}.")
