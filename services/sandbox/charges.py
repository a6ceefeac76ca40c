"""Charging, for one request or a batch: the same rules either way, with a few statements per batch
rather than per charge.

Each charge has its own idempotency key and its own outcome, as at a real processor: a key already
used returns its stored charge (replayed), or ``IdempotencyKeyReused`` with other parameters; an
unknown token is ``NotFound``; a test card that fails transiently fails each key's first attempt
with ``ProcessingError`` and stores nothing, so the retry with the same key charges.
"""

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

from services.sandbox import repository as repo
from services.sandbox.domain import DECLINES, IdempotencyKeyReused, ProcessingError
from shared.errors import NotFound, ServiceError


@dataclass(frozen=True)
class ChargeOrder:
    """What one charge asks for, under its idempotency key."""

    idempotency_key: str
    token: str
    amount: int
    currency: str

    @property
    def request_hash(self) -> str:
        return hashlib.sha256(f"{self.token}|{self.amount}|{self.currency}".encode()).hexdigest()


@dataclass(frozen=True)
class Charged:
    row: asyncpg.Record
    replayed: bool


async def charge_all(conn: asyncpg.Connection, orders: list[ChargeOrder]) -> list[Charged | ServiceError]:
    """Each order's outcome, in order. The keys must be distinct."""
    outcomes: list[Charged | ServiceError | None] = [None] * len(orders)
    existing = await repo.charges_by_keys(conn, [o.idempotency_key for o in orders])
    tokens = await repo.tokens(conn, list({o.token for o in orders if o.idempotency_key not in existing}))
    new: list[int] = []
    for i, o in enumerate(orders):
        if (row := existing.get(o.idempotency_key)) is not None:
            outcomes[i] = _same_request(row, o, replayed=True)
        elif (token := tokens.get(o.token)) is None:
            outcomes[i] = NotFound("No such token.", details={"token": "unknown"})
        else:
            new.append(i)
    transient = [orders[i].idempotency_key for i in new if tokens[orders[i].token]["behaviour"] == "processing_error"]
    failing_now = await repo.first_transient_failures(conn, transient) if transient else set()
    rows = []
    for i in new:
        o = orders[i]
        if o.idempotency_key in failing_now:
            outcomes[i] = ProcessingError()
            continue
        failure = DECLINES.get(tokens[o.token]["behaviour"])
        rows.append((
            "ch_" + secrets.token_urlsafe(18), o.idempotency_key, o.request_hash, o.token, o.amount, o.currency,
            "failed" if failure else "succeeded", failure[0] if failure else None, failure[1] if failure else None,
        ))
    stored = await repo.insert_charges(conn, rows) if rows else {}
    for i in new:
        if outcomes[i] is None:
            outcomes[i] = _same_request(stored[orders[i].idempotency_key], orders[i], replayed=False)
    return outcomes  # type: ignore[return-value]


def _same_request(row: asyncpg.Record, order: ChargeOrder, *, replayed: bool) -> Charged | ServiceError:
    """The charge stored under the key, unless the key was used with other parameters."""
    if row["request_hash"] != order.request_hash:
        return IdempotencyKeyReused()
    return Charged(row, replayed)
