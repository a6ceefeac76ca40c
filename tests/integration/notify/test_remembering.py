"""What notify learns from events about contacts and sites: one round trip, and no row rewritten when
an event repeats what notify knows (a registration's three events each name the site)."""

import asyncio
import uuid

import asyncpg
import pytest

from services.notify import repository as repo


@pytest.fixture
async def notify_pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, server_settings={"search_path": "notify"})
    yield pool
    await pool.close()


async def versions(conn, contact_id, site_id) -> tuple:
    """The rows' xmin: a new row version has another."""
    return (
        await conn.fetchval("SELECT xmin::text FROM contacts WHERE id = $1", contact_id),
        await conn.fetchval("SELECT xmin::text FROM sites WHERE id = $1", site_id),
    )


async def test_a_repeated_event_rewrites_nothing_and_a_change_is_kept(notify_pool):
    contact_id, site_id = uuid.uuid4(), uuid.uuid4()
    fields = dict(contact_id=contact_id, site_id=site_id, email="a@example.org", first_name="Ann", last_name="Lee")
    async with notify_pool.acquire() as conn:
        await repo.remember_contact_and_site(conn, **fields, site_slug="school")
        first = await versions(conn, contact_id, site_id)
        await repo.remember_contact_and_site(conn, **fields, site_slug="school")
        await repo.remember_site(conn, site_id=site_id, slug="", name="")  # blanks never overwrite
        assert await versions(conn, contact_id, site_id) == first

        await repo.remember_contact_and_site(conn, **{**fields, "first_name": "Anne"}, site_slug="school", site_name="The School")
        contact = await conn.fetchrow("SELECT email, first_name, last_name FROM contacts WHERE id = $1", contact_id)
        site = await conn.fetchrow("SELECT slug, name FROM sites WHERE id = $1", site_id)
        assert tuple(contact) == ("a@example.org", "Anne", "Lee") and tuple(site) == ("school", "The School")
        assert all(a != b for a, b in zip(await versions(conn, contact_id, site_id), first))


async def test_a_queued_message_and_its_mime_are_written_together_once(notify_pool):
    message_id, event_id = uuid.uuid4(), uuid.uuid4()
    common = dict(message_id=message_id, event_id=event_id, template="welcome", site_id=uuid.uuid4(), contact_id=None,
                  correlation_id="c", to_address="a@example.org", subject="Hi")
    async with notify_pool.acquire() as conn, conn.transaction():
        assert await repo.insert_message(conn, **common, status="queued", mime=b"MIME")
        assert not await repo.insert_message(conn, **common, status="queued", mime=b"OTHER")  # a redelivery
        assert await conn.fetchval("SELECT mime FROM outgoing WHERE message_id = $1", message_id) == b"MIME"
        held = uuid.uuid4()
        assert await repo.insert_message(conn, **{**common, "message_id": held, "event_id": uuid.uuid4()},
                                         status="held", reason="r")
        assert await conn.fetchval("SELECT count(*) FROM outgoing WHERE message_id = $1", held) == 0
        # Leave nothing for the running system's delivery worker.
        await conn.execute("DELETE FROM messages WHERE id = ANY($1::uuid[])", [message_id, held])


async def test_naming_a_known_site_again_neither_waits_for_nor_blocks_another_transaction(database_url, notify_pool):
    """Every event of every registration names its site: a transaction that repeats what the row says
    must not lock it (ON CONFLICT DO UPDATE would, until its commit), in notify and in auth alike."""
    from services.auth import repository as auth_repo

    site_id = uuid.uuid4()
    auth_pool = await asyncpg.create_pool(database_url, min_size=2, max_size=2, server_settings={"search_path": "auth"})
    try:
        for pool, remember in (
            (notify_pool, lambda conn: repo.remember_site(conn, site_id=site_id, slug="hot", name="Hot Site")),
            (auth_pool, lambda conn: auth_repo.name_site_and_find_login(
                conn, site_id=site_id, slug="hot", name="Hot Site", contact_id=uuid.uuid4())),
        ):
            async with pool.acquire() as conn:
                await remember(conn)
            async with pool.acquire() as first, pool.acquire() as second:
                async with first.transaction():
                    await remember(first)  # still open: a lock taken here would hold the second
                    async with second.transaction():
                        await asyncio.wait_for(remember(second), timeout=2)
    finally:
        await auth_pool.close()


async def test_the_context_of_an_email_remembers_the_events_site_in_the_same_statement(notify_pool):
    """The welcome reads its context and keeps what its event said of the site in one round trip: a
    new site is kept, a repeated one rewrites nothing, a blank never overwrites, a new name is kept."""
    site_id, contact_id = uuid.uuid4(), uuid.uuid4()
    async with notify_pool.acquire() as conn:
        context = await repo.email_context(conn, contact_id, site_id, "welcome", remember=("school", "The School"))
        assert context["site_name"] is None  # read as it was before the statement: the event's name wins anyway
        assert tuple(await conn.fetchrow("SELECT slug, name FROM sites WHERE id = $1", site_id)) == ("school", "The School")
        first = await conn.fetchval("SELECT xmin::text FROM sites WHERE id = $1", site_id)
        context = await repo.email_context(conn, contact_id, site_id, "welcome", remember=("school", "The School"))
        assert context["site_name"] == "The School"
        await repo.email_context(conn, contact_id, site_id, "welcome", remember=("", ""))
        assert await conn.fetchval("SELECT xmin::text FROM sites WHERE id = $1", site_id) == first
        await repo.email_context(conn, contact_id, site_id, "welcome", remember=("", "The New School"))
        assert tuple(await conn.fetchrow("SELECT slug, name FROM sites WHERE id = $1", site_id)) == ("school", "The New School")
