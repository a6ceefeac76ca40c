"""The outbox relay: publishes rows the service committed, with confirms, then deletes them.

Woken by NOTIFY on ``<schema>_outbox`` (a trigger sends it on commit), polling as a fallback. A batch
is claimed and deleted in one statement (``DELETE ... WHERE seq IN (... FOR UPDATE SKIP LOCKED)
RETURNING``), so replicas of a service never publish the same row at once; the deletion commits only
after the broker confirmed every row of the batch. A crash in between rolls it back and publishes
the rows again, and the consumers' inbox absorbs the duplicates. A row that could not be published
is put back in the same transaction: an unroutable event (no queue bound) with its attempts counted
and a backoff, logged as an error, never silently dropped; one that met connection trouble due again
a second later.
"""

import asyncpg

from shared.bus import Bus, Unroutable
from shared.faults import crash_point
from shared.logging import get_logger
from shared.metrics import EVENTS_PUBLISHED, EVENTS_UNROUTABLE
from shared.worker import ListeningWorker

log = get_logger("shared.outbox")

_CLAIM = """
DELETE FROM outbox
WHERE seq IN (SELECT seq FROM outbox WHERE next_attempt_at <= now() ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING seq, event_id, routing_key, envelope::text AS body, envelope->>'correlation_id' AS correlation_id,
          created_at, attempts, last_error
"""

# Rows that were not published go back, due again in a second (the put-back's NOTIFY must not make a
# tight loop while the broker refuses), an unroutable one with its attempts counted and a backoff.
_PUT_BACK = """
INSERT INTO outbox (seq, event_id, routing_key, envelope, created_at, attempts, next_attempt_at, last_error)
SELECT seq, event_id, routing_key, body::json, created_at,
       attempts + CASE WHEN unroutable THEN 1 ELSE 0 END,
       CASE WHEN unroutable
            THEN now() + least(interval '1 second' * power(2, attempts), interval '60 seconds')
            ELSE now() + interval '1 second' END,
       CASE WHEN unroutable THEN 'unroutable' ELSE last_error END
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::int[], $7::text[], $8::bool[])
     AS r(seq, event_id, routing_key, body, created_at, attempts, last_error, unroutable)
"""


class OutboxRelay(ListeningWorker):
    name = "outbox"

    def __init__(self, settings, pool: asyncpg.Pool, bus: Bus, schema: str) -> None:
        super().__init__(settings, pool, f"{schema}_outbox", settings.outbox_poll_seconds)
        self.bus = bus

    async def work_once(self) -> bool:
        """Publish one batch of due rows, all in flight at once (written together, confirms pipelined)."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = sorted(await conn.fetch(_CLAIM, self.settings.outbox_batch), key=lambda r: r["seq"])
            if not rows:
                return False
            if not self.bus.ready:
                raise ConnectionError("broker not connected")
            crash_point("outbox.before_publish")
            try:
                results = await self.bus.publish_many([
                    (r["routing_key"], r["body"].encode(), str(r["event_id"]), r["correlation_id"] or "") for r in rows
                ])
            except Exception as exc:  # the channel closed before they were sent: each row stays
                results = [exc] * len(rows)
            failed = [(row, result) for row, result in zip(rows, results) if result is not None]
            if len(failed) < len(rows):
                crash_point("outbox.after_publish")
            for row, result in zip(rows, results):
                if result is None:
                    EVENTS_PUBLISHED.labels(row["routing_key"]).inc()
                elif isinstance(result, Unroutable):
                    EVENTS_UNROUTABLE.labels(row["routing_key"]).inc()
                    log.error("outbox.unroutable", event_id=str(row["event_id"]), routing_key=row["routing_key"])
                else:  # connection trouble: the row stays for the next round
                    log.warning("outbox.publish_failed", event_id=str(row["event_id"]), error=repr(result))
            if failed:
                columns = ("seq", "event_id", "routing_key", "body", "created_at", "attempts", "last_error")
                await conn.execute(
                    _PUT_BACK,
                    *([row[c] for row, _ in failed] for c in columns),
                    [isinstance(result, Unroutable) for _, result in failed],
                )
            log.debug("outbox.published", count=len(rows) - len(failed))
            return len(rows) == self.settings.outbox_batch and not failed
