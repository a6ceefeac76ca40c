"""Inbox retention (shared/inbox.py): rows older than the retention plus a day go, in batches, one
pruner per schema at a time; younger rows stay (a replayable dead letter relies on them)."""

import uuid
from datetime import datetime, timedelta, timezone

from shared.inbox import PRUNE_GRACE, InboxPruner, prune_cutoff


async def add_rows(pool, ages: list[timedelta]) -> list[uuid.UUID]:
    now = datetime.now(timezone.utc)
    ids = [uuid.uuid4() for _ in ages]
    await pool.executemany(
        "INSERT INTO inbox (event_id, handler, processed_at) VALUES ($1, 'h', $2)",
        [(i, now - age) for i, age in zip(ids, ages)],
    )
    return ids


async def test_rows_older_than_the_retention_and_a_day_are_pruned_in_batches(service):
    settings, pool, _ = service
    settings = settings.model_copy(update={"inbox_retention_days": 30, "inbox_prune_batch": 2})
    old = await add_rows(pool, [timedelta(days=40), timedelta(days=31, hours=1), timedelta(days=365)])
    kept = await add_rows(pool, [timedelta(days=30, hours=23), timedelta(days=30, hours=1), timedelta(0)])
    assert await InboxPruner(settings, pool).run_once() == 3  # two batches: 2, then 1
    left = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")}
    assert left == set(kept) and not left & set(old)
    assert await InboxPruner(settings, pool).run_once() == 0
    assert prune_cutoff(settings) < datetime.now(timezone.utc) - timedelta(days=30) - PRUNE_GRACE + timedelta(seconds=5)


async def test_a_second_pruner_of_the_same_schema_stands_aside(service):
    settings, pool, _ = service
    await add_rows(pool, [timedelta(days=60)])
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"cc-inbox-prune:{settings.service}")
        assert await InboxPruner(settings, pool).run_once() is None
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
    assert await InboxPruner(settings, pool).run_once() == 1


async def test_the_prune_finds_old_rows_by_the_brin_index(service):
    _, pool, _ = service
    plan = await pool.fetchval(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'inbox_processed_at_brin'"
    )
    assert plan is not None and "USING brin (processed_at)" in plan
