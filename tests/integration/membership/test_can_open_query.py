"""The gateway asks can-open on every protected page view: it must be one query that indexes answer."""

import json
import uuid
from datetime import datetime, timezone

from services.membership.repository import CAN_OPEN


async def test_the_page_check_is_one_query_answered_by_indexes(db):
    async with db.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO membership")
            # With sequential scans priced out, any table the indexes cannot reach still shows a Seq Scan.
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) " + CAN_OPEN, uuid.uuid4(), uuid.uuid4(), "/gold/lessons", datetime.now(timezone.utc)
            )
    text = json.dumps(json.loads(plan))
    assert "Seq Scan" not in text, text
    for index in ("pages_site_id_path_key", "grants_contact_level"):
        assert index in text, text
