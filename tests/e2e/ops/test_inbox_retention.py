"""Each consuming service of the running system prunes its own inbox on its own: rows older than
CC_INBOX_RETENTION_DAYS (30) plus a day go, younger ones stay."""

import uuid
from datetime import datetime, timedelta, timezone

from tests.conftest import eventually

CONSUMERS = ("auth", "membership", "billing", "notify")


async def test_every_consuming_service_prunes_inbox_rows_past_the_retention(system, db):
    now = datetime.now(timezone.utc)
    rows = {}
    for schema in CONSUMERS:
        old, kept = uuid.uuid4(), uuid.uuid4()
        await db.executemany(
            f"INSERT INTO {schema}.inbox (event_id, handler, processed_at) VALUES ($1, 'retention_test', $2)",
            [(old, now - timedelta(days=31, minutes=5)), (kept, now - timedelta(days=30, hours=12))],
        )
        rows[schema] = (old, kept)

    async def pruned():
        for schema, (old, _) in rows.items():
            if await db.fetchval(f"SELECT count(*) FROM {schema}.inbox WHERE event_id = $1", old):
                return False
        return True

    await eventually(pruned, timeout=20, message="every consumer's prune (CC_INBOX_PRUNE_INTERVAL_SECONDS=2)")
    for schema, (_, kept) in rows.items():
        assert await db.fetchval(f"SELECT count(*) FROM {schema}.inbox WHERE event_id = $1", kept) == 1, schema
    logs = {name: (system.log_dir / f"{name}.log").read_text() for name in CONSUMERS}
    assert all('"inbox.pruned"' in text for text in logs.values()), [n for n, t in logs.items() if '"inbox.pruned"' not in t]
