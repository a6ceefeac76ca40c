"""Bounded inbox retention: every consuming service deletes its inbox rows once they are older than
``CC_INBOX_RETENTION_DAYS`` plus a day.

An inbox row ``(event_id, handler)`` is what makes a redelivered event change nothing. The only
redelivery that can come long after the first is a replayed dead letter, so replay
(``shared/dead_letters.py``) refuses a dead letter older than the retention (its event occurred, or
it was first parked, more than ``CC_INBOX_RETENTION_DAYS`` ago). A handler that applied it did so
after the event occurred, so its row is younger than the event, and the prune keeps rows a day
longer than replay accepts (``PRUNE_GRACE``): a dead letter replayed on the last day of its window
still finds its rows when it is applied, even after a day in the queue.

The prune deletes in batches (``CC_INBOX_PRUNE_BATCH`` rows per transaction, a BRIN index on
``processed_at`` finds them), one pruner per schema at a time (a transaction-level advisory lock:
replicas skip a run another is doing), every ``CC_INBOX_PRUNE_INTERVAL_SECONDS``.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import asyncpg

from shared.logging import get_logger

log = get_logger("shared.inbox")

PRUNE_GRACE = timedelta(days=1)


def retention(settings) -> timedelta:
    return timedelta(days=settings.inbox_retention_days)


def prune_cutoff(settings, now: datetime | None = None) -> datetime:
    """Rows processed before this go."""
    return (now or datetime.now(timezone.utc)) - retention(settings) - PRUNE_GRACE


async def prune_inbox(pool: asyncpg.Pool, *, before: datetime, batch: int, schema: str) -> int | None:
    """Delete the inbox rows processed before ``before``, ``batch`` at a time; → how many, or None when
    another pruner of the schema holds the lock (it does the work)."""
    deleted = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", f"cc-inbox-prune:{schema}"):
                return None if deleted == 0 else deleted
            status = await conn.execute(
                "DELETE FROM inbox WHERE ctid = ANY(ARRAY("
                " SELECT ctid FROM inbox WHERE processed_at < $1 LIMIT $2))",
                before, batch,
            )
        n = int(status.split()[-1])
        deleted += n
        if n < batch:
            return deleted
        await asyncio.sleep(0)  # let the consumer's transactions in between batches


class InboxPruner:
    """The periodic prune of a consuming service (``shared/app.py`` starts it beside the consumer)."""

    def __init__(self, settings, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.pool = pool
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_once(self) -> int | None:
        before = prune_cutoff(self.settings)
        deleted = await prune_inbox(self.pool, before=before, batch=self.settings.inbox_prune_batch,
                                    schema=self.settings.service)
        if deleted:
            log.info("inbox.pruned", rows=deleted, before=before.isoformat())
        return deleted

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.inbox_prune_interval_seconds)
            try:
                await self.run_once()
            except Exception as exc:  # the database away for a moment: try again next time
                log.warning("inbox.prune_failed", error=type(exc).__name__)
