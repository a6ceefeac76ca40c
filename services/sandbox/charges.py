"""Charging, for one request or a batch: the same rules either way, with a few statements per batch
rather than per charge.

Each charge has its own idempotency key and its own outcome, as at a real processor: a key already
used returns its stored charge (replayed), or ``IdempotencyKeyReused`` with other parameters; an
unknown token is ``NotFound``; a test card that fails transiently fails each key's first attempt
with ``ProcessingError`` and stores nothing, so the retry with the same key charges.
"""

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

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
        return _request_hash(self.token, self.amount, self.currency)


@lru_cache(maxsize=1024)
def _request_hash(token: str, amount: int, currency: str) -> str:
    """A batch's charges mostly share their parameters: each hash is computed once, not twice a charge."""
    return hashlib.sha256(f"{token}|{amount}|{currency}".encode()).hexdigest()


def charge_ids(n: int) -> list[str]:
    """``n`` charge ids, each ``"ch_" + secrets.token_urlsafe(18)``, from one read of the OS's
    CSPRNG (18 random bytes are 24 URL-safe base64 characters, with no padding)."""
    text = base64.urlsafe_b64encode(os.urandom(18 * n)).decode()
    return ["ch_" + text[i:i + 24] for i in range(0, 24 * n, 24)]


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
    ids = iter(charge_ids(len(new)))
    for i in new:
        o = orders[i]
        if o.idempotency_key in failing_now:
            outcomes[i] = ProcessingError()
            continue
        failure = DECLINES.get(tokens[o.token]["behaviour"])
        rows.append((
            next(ids), o.idempotency_key, o.request_hash, o.token, o.amount, o.currency,
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
