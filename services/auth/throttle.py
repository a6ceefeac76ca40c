"""Throttling failed password checks, per account and per client address.

Per account: the first few failures answer at once, then each answer is held back longer, and the
``login_max_failures``-th failure within the window locks the account for a while (each further lock
twice as long). Per address: a lock after ``address_max_failures`` failures over every account. A
locked key is refused with 429 before any password is checked, whether the password is right or not.
An unknown username is throttled under its own key exactly like a real account.
"""

from datetime import datetime, timezone

import asyncpg

from services.auth import repository as repo
from services.auth.domain import Throttled, failure_delay, lock_seconds
from shared.logging import get_logger

log = get_logger("auth.throttle")


class Throttle:
    def __init__(self, settings) -> None:
        self.settings = settings

    async def refuse_if_locked(self, conn: asyncpg.Connection, *keys: str) -> None:
        until = await repo.locked_until(conn, [k for k in keys if k])
        if until is not None:
            retry_after = int((until - datetime.now(timezone.utc)).total_seconds()) + 1
            log.info("login.throttled", retry_after=retry_after)
            raise Throttled(retry_after)

    async def failed(self, conn: asyncpg.Connection, account: str, address: str | None = None) -> float:
        """Count the failure on both keys, lock what reached its limit; → seconds to hold the answer
        back (the caller sleeps after giving its connection back)."""
        s = self.settings
        failures = await self._count(conn, account, s.login_max_failures)
        if address:
            await self._count(conn, address, s.address_max_failures)
        return failure_delay(failures, free=s.login_free_failures, base=s.login_delay_base_seconds, cap=s.login_delay_cap_seconds)

    async def _count(self, conn: asyncpg.Connection, key: str, max_failures: int) -> int:
        row = await repo.count_failure(conn, key, window_seconds=self.settings.login_window_seconds)
        if row["failures"] >= max_failures and row["locked_until"] is None:
            until = await repo.lock(conn, key, lock_seconds(row["locks"], base=self.settings.login_lock_seconds))
            log.warning("login.locked", kind=key.split(":", 1)[0], failures=row["failures"], until=until.isoformat())
        return row["failures"]

    async def succeeded(self, conn: asyncpg.Connection, account: str) -> None:
        """A right password clears the account's count (never the address's: one good account must not
        reset an address that is guessing others)."""
        await repo.clear_throttle(conn, account)

    async def lock_of(self, conn: asyncpg.Connection, account: str) -> datetime | None:
        return await repo.locked_until(conn, [account])
