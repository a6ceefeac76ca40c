"""The demo site: a program with levels, protected pages and an admin API key."""

import hashlib
import uuid

import asyncpg

from services.membership import repository as repo

DEMO = uuid.UUID("6d1c3c8e-0000-4000-8000-00000000de30")


def demo_id(name: str) -> uuid.UUID:
    """Stable ids, so every service's demo data agrees and seeding twice changes nothing."""
    return uuid.uuid5(DEMO, name)


DEMO_SITE_ID = demo_id("site:demo")


async def seed_demo(conn: asyncpg.Connection, *, admin_key: str) -> None:
    site_id = DEMO_SITE_ID
    program_id = demo_id("program:members")
    free, gold = demo_id("level:free"), demo_id("level:gold")
    async with conn.transaction():
        await repo.upsert_site(conn, site_id=site_id, slug="demo", name="Demo Academy")
        await repo.upsert_program(conn, program_id=program_id, site_id=site_id, name="Members")
        await repo.upsert_level(conn, level_id=free, program_id=program_id, name="Free", rank=0)
        await repo.upsert_level(conn, level_id=gold, program_id=program_id, name="Gold", rank=10)
        await repo.set_default_level(conn, site_id, free)
        await repo.upsert_page(
            conn, page_id=demo_id("page:welcome"), site_id=site_id, path="/welcome", title="Welcome", level_ids=[free, gold]
        )
        await repo.upsert_page(
            conn, page_id=demo_id("page:gold"), site_id=site_id, path="/gold/lessons", title="Gold lessons", level_ids=[gold]
        )
        # Buying the monthly subscription or the course grants Gold (the products are billing's demo ones).
        for product in ("product:monthly", "product:plan"):
            await repo.insert_rule(
                conn, rule_id=demo_id(f"rule:{product}"), site_id=site_id, product_id=demo_id(product), level_id=gold
            )
        await repo.put_api_key(
            conn,
            key_id=demo_id("api-key:demo"),
            site_id=site_id,
            key_hash=hashlib.sha256(admin_key.encode()).digest(),
            label="demo (make run)",
        )


async def seed_site(conn: asyncpg.Connection, *, slug: str, name: str, admin_key: str) -> uuid.UUID:
    """An empty site with an admin API key (programs, levels and pages come through the admin API)."""
    site_id = uuid.uuid5(DEMO, f"site:{slug}")
    async with conn.transaction():
        await repo.upsert_site(conn, site_id=site_id, slug=slug, name=name)
        await repo.put_api_key(
            conn,
            key_id=uuid.uuid5(DEMO, f"api-key:{slug}"),
            site_id=site_id,
            key_hash=hashlib.sha256(admin_key.encode()).digest(),
            label=slug,
        )
    return site_id
