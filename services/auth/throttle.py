"""Throttling password checks, per account and per client address.

Per account: the first few failures answer at once, then each answer is held back longer, and the
``login_max_failures``-th failure within the window locks the account for a while (each further lock
twice as long). Per address: a lock after ``address_max_failures`` failures over every account. A
locked key is refused with 429 before any password is checked, whether the password is right or not.
An unknown username is throttled under its own key exactly like a real account.

An account's lock holds back the addresses that failed on it (each (account, address) pair is
counted too), not the others: the real owner, from an address that never guessed wrong on the
account, still gets their try while someone elsewhere is being locked out.

Every attempt is counted as a failure *before* the password is checked (and taken back when it was
right), so a burst of parallel guesses cannot slip past the limit while the first ones are hashing.
"""

from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg

from services.auth import repository as repo
from services.auth.domain import Throttled, failure_delay, lock_seconds
from shared.logging import get_logger

log = get_logger("auth.throttle")


@dataclass
class Attempt:
    """The keys of one password check and how many failures each has, this attempt included."""

    counts: dict[str, int]
    account: str
    pair: str | None = None


class Throttle:
    def __init__(self, settings) -> None:
        self.settings = settings

    def _limit(self, key: str) -> int:
        return self.settings.address_max_failures if key.startswith("addr:") else self.settings.login_max_failures

    async def attempt(self, conn: asyncpg.Connection, account: str, address: str | None = None) -> Attempt:
        """Refuse a locked key (429); otherwise count this attempt on every key."""
        pair = f"{account}|{address}" if address else None
        await self._refuse_if_locked(conn, [k for k in (address, pair) if k])
        account_lock = await repo.locked_until(conn, [account])
        # A locked account refuses every address that failed on it; one that never did gets its try.
        clean_address = pair is not None and await repo.count_state(conn, pair) is None
        if account_lock is not None and not clean_address:
            raise Throttled(self._seconds_until(account_lock))
        counts = {}
        for key in [k for k in (account, address, pair) if k]:
            row = await repo.count_failure(conn, key, window_seconds=self.settings.login_window_seconds)
            counts[key] = row["failures"]
            if key == account and account_lock is not None:
                continue
            if key == pair and account_lock is not None and row["failures"] > 1:  # a burst of "first tries"
                raise Throttled(self._seconds_until(account_lock))
            if row["failures"] > self._limit(key):  # parallel attempts beyond the limit
                until = row["locked_until"] or await self._lock(conn, key, row)
                raise Throttled(self._seconds_until(until))
        return Attempt(counts, account, pair)

    async def failed(self, conn: asyncpg.Connection, attempt: Attempt) -> float:
        """The password was wrong: lock what reached its limit. → seconds to hold the answer back (the
        caller sleeps after giving its connection back)."""
        for key, failures in attempt.counts.items():
            if failures >= self._limit(key):
                row = await repo.count_state(conn, key)
                if row["locked_until"] is None:
                    await self._lock(conn, key, row)
        s = self.settings
        return failure_delay(
            attempt.counts[attempt.account], free=s.login_free_failures, base=s.login_delay_base_seconds, cap=s.login_delay_cap_seconds
        )

    async def succeeded(self, conn: asyncpg.Connection, attempt: Attempt) -> None:
        """A right password clears the account's count and takes this attempt back from the address's
        (only this one: a good account must not reset an address that is guessing others)."""
        for key in attempt.counts:
            if key in (attempt.account, attempt.pair):
                await repo.clear_throttle(conn, key)
            else:
                await repo.uncount_failure(conn, key)

    async def clear(self, conn: asyncpg.Connection, account: str) -> None:
        await repo.clear_throttle(conn, account)

    async def lock_of(self, conn: asyncpg.Connection, account: str) -> datetime | None:
        return await repo.locked_until(conn, [account])

    async def _refuse_if_locked(self, conn: asyncpg.Connection, keys: list[str]) -> None:
        until = await repo.locked_until(conn, keys)
        if until is not None:
            raise Throttled(self._seconds_until(until))

    async def _lock(self, conn: asyncpg.Connection, key: str, row) -> datetime:
        until = await repo.lock(conn, key, lock_seconds(row["locks"], base=self.settings.login_lock_seconds))
        log.warning("login.locked", kind=key.split(":", 1)[0], failures=row["failures"], until=until.isoformat())
        return until

    @staticmethod
    def _seconds_until(until: datetime) -> int:
        retry_after = int((until - datetime.now(timezone.utc)).total_seconds()) + 1
        log.info("login.throttled", retry_after=retry_after)
        return retry_after
