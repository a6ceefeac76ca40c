"""The payment processor adapter: what billing needs from a processor, whichever it is.

Billing never sees a card number: the card form tokenises at the processor, billing keeps the token.
Every charge carries an idempotency key; a processor must return the same charge for the same key.
A real processor plugs in by implementing ``PaymentProcessor``; the sandbox is ``SandboxProcessor``.
A processor without a batch API implements ``charge_many`` with ``charge_each``.
"""

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class CardDetails:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class ChargeResult:
    """``succeeded``; ``declined`` (final for this attempt: ``code`` says why); ``error``: transient,
    the outcome is unknown or the processor failed, retry with the SAME idempotency key."""

    outcome: Literal["succeeded", "declined", "error"]
    charge_id: str | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ChargeRequest:
    token: str
    amount: int
    currency: str
    idempotency_key: str
    description: str = ""


@dataclass(frozen=True)
class RefundResult:
    ok: bool
    refund_id: str | None = None
    code: str | None = None


class PaymentProcessor(Protocol):
    async def card(self, token: str) -> CardDetails | None:
        """The card behind a token; None when the processor does not know it."""

    async def charge(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, description: str = ""
    ) -> ChargeResult: ...

    async def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        """Each request's result, in order (the billing run's batch); each has its own key and outcome."""

    async def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        """What the processor recorded under the key: its charge's outcome, None when it has none (the
        charge never happened), an ``error`` result when it cannot be asked now."""

    async def refund(self, *, charge_id: str, amount: int, idempotency_key: str) -> RefundResult: ...


async def charge_each(processor: PaymentProcessor, requests: list[ChargeRequest]) -> list[ChargeResult]:
    """``charge_many`` for a processor without a batch API: every charge in flight at once."""
    return list(await asyncio.gather(*(
        processor.charge(
            token=r.token, amount=r.amount, currency=r.currency, idempotency_key=r.idempotency_key,
            description=r.description,
        )
        for r in requests
    )))
