"""Due sequence steps are claimed with FOR UPDATE SKIP LOCKED: while one notify worker holds a claim,
another takes the rest instead of waiting for (and then repeating) it."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from services.notify import repository as repo


@pytest.fixture
async def notify_pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4, server_settings={"search_path": "notify"})
    yield pool
    await pool.close()


async def test_two_workers_claim_disjoint_due_enrolments_and_never_wait_for_each_other(notify_pool):
    site_id, sequence_id = uuid.uuid4(), uuid.uuid4()
    async with notify_pool.acquire() as conn:
        assert await repo.create_sequence(conn, sequence_id=sequence_id, site_id=site_id, name="claims", steps=[("welcome", 3600)])
        for _ in range(4):
            await repo.enrol(conn, enrolment_id=uuid.uuid4(), sequence_id=sequence_id, site_id=site_id, contact_id=uuid.uuid4(), source="admin")
    # Due in an hour: the running system's scheduled loop (as of now) leaves them to this test.
    as_of = datetime.now(timezone.utc) + timedelta(hours=2)

    async with notify_pool.acquire() as first, notify_pool.acquire() as second:
        async with first.transaction():
            mine = await repo.claim_due_enrolments(first, as_of=as_of, site_id=site_id, limit=3)
            async with second.transaction():
                theirs = await asyncio.wait_for(
                    repo.claim_due_enrolments(second, as_of=as_of, site_id=site_id, limit=10), timeout=2
                )
    assert len(mine) == 3 and len(theirs) == 1
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}


async def test_a_due_step_is_not_claimed_before_its_time_nor_after_unenrolment(notify_pool):
    site_id, sequence_id, contact_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with notify_pool.acquire() as conn:
        await repo.create_sequence(conn, sequence_id=sequence_id, site_id=site_id, name="later", steps=[("welcome", 3600)])
        await repo.enrol(conn, enrolment_id=uuid.uuid4(), sequence_id=sequence_id, site_id=site_id, contact_id=contact_id, source="admin")
        now = datetime.now(timezone.utc)
        assert await repo.claim_due_enrolments(conn, as_of=now, site_id=site_id, limit=10) == []
        assert len(await repo.claim_due_enrolments(conn, as_of=now + timedelta(hours=2), site_id=site_id, limit=10)) == 1
        await repo.unenrol(conn, sequence_id, contact_id)
        assert await repo.claim_due_enrolments(conn, as_of=now + timedelta(hours=2), site_id=site_id, limit=10) == []
