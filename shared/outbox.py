"""The outbox relay: publishes rows the service committed, with confirms, then deletes them.

Woken by NOTIFY on ``<schema>_outbox`` (a trigger sends it on commit), polling as a fallback. Rows are
claimed with ``FOR UPDATE SKIP LOCKED``, so replicas of a service never publish the same row at once.
A row is deleted only after the broker confirmed it; a crash in between publishes it again, and the
consumers' inbox absorbs the duplicate. An unroutable event (no queue bound) stays, is retried with
backoff and logged as an error: never silently dropped.
"""

import asyncio

import asyncpg

from shared.bus import Bus, Unroutable
from shared.faults import crash_point
from shared.logging import get_logger
from shared.metrics import EVENTS_PUBLISHED, EVENTS_UNROUTABLE
from shared.worker import ListeningWorker

log = get_logger("shared.outbox")

_CLAIM = """
SELECT seq, event_id, routing_key, envelope::text AS body, envelope->>'correlation_id' AS correlation_id
FROM outbox
WHERE next_attempt_at <= now()
ORDER BY seq
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


class OutboxRelay(ListeningWorker):
    name = "outbox"

    def __init__(self, settings, pool: asyncpg.Pool, bus: Bus, schema: str) -> None:
        super().__init__(settings, pool, f"{schema}_outbox", settings.outbox_poll_seconds)
        self.bus = bus

    async def work_once(self) -> bool:
        """Publish one batch of due rows, all in flight at once (confirms pipelined)."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.settings.outbox_batch)
            if not rows:
                return False
            if not self.bus.ready:
                raise ConnectionError("broker not connected")
            crash_point("outbox.before_publish")
            results = await asyncio.gather(
                *(
                    self.bus.publish(
                        r["routing_key"],
                        r["body"].encode(),
                        message_id=str(r["event_id"]),
                        correlation_id=r["correlation_id"] or "",
                    )
                    for r in rows
                ),
                return_exceptions=True,
            )
            done = [r["seq"] for r, result in zip(rows, results) if result is None]
            if done:
                crash_point("outbox.after_publish")
            if done:
                await conn.execute("DELETE FROM outbox WHERE seq = ANY($1::bigint[])", done)
            for row, result in zip(rows, results):
                if result is None:
                    EVENTS_PUBLISHED.labels(row["routing_key"]).inc()
                elif isinstance(result, Unroutable):
                    EVENTS_UNROUTABLE.labels(row["routing_key"]).inc()
                    log.error("outbox.unroutable", event_id=str(row["event_id"]), routing_key=row["routing_key"])
                    await conn.execute(
                        "UPDATE outbox SET attempts = attempts + 1, last_error = 'unroutable',"
                        " next_attempt_at = now() + least(interval '1 second' * power(2, attempts), interval '60 seconds')"
                        " WHERE seq = $1",
                        row["seq"],
                    )
                elif result is not None:  # connection trouble: the row stays for the next round
                    log.warning("outbox.publish_failed", event_id=str(row["event_id"]), error=repr(result))
            log.debug("outbox.published", count=len(done))
            return len(rows) == self.settings.outbox_batch and len(done) == len(rows)
