"""A grant's handler in auth: the site named and the contact's login looked up in one statement, and
a new login written with its set-password token in one statement, or neither when the username is
taken."""

import uuid
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from services.auth import repository as repo


@pytest.fixture
async def auth_pool(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, server_settings={"search_path": "auth"})
    yield pool
    await pool.close()


def login_fields(site_id, username: str, **token) -> dict:
    return dict(
        login_id=uuid.uuid4(), site_id=site_id, contact_id=uuid.uuid4(), username=username, email=f"{username}@example.org",
        first_name="Ann", program_name="Program", level_name="Gold", token_id=uuid.uuid4(),
        token_hash=uuid.uuid4().bytes * 2, token_expires_at=datetime.now(timezone.utc) + timedelta(hours=1), **token,
    )


async def test_a_taken_username_writes_neither_the_login_nor_its_token(auth_pool):
    site_id = uuid.uuid4()
    async with auth_pool.acquire() as conn, conn.transaction():
        assert await repo.name_site_and_find_login(conn, site_id=site_id, slug="s", name="S", contact_id=uuid.uuid4()) is None
        assert await conn.fetchval("SELECT name FROM sites WHERE id = $1", site_id) == "S"

        first = login_fields(site_id, "ann")
        assert await repo.insert_login(conn, **first)
        token = await conn.fetchrow("SELECT login_id, purpose FROM password_tokens WHERE token_hash = $1", first["token_hash"])
        assert tuple(token) == (first["login_id"], "set_password")
        found = await repo.name_site_and_find_login(conn, site_id=site_id, slug="s", name="S", contact_id=first["contact_id"])
        assert found["id"] == first["login_id"]

        taken = login_fields(site_id, "ANN")  # usernames are unique per site, whatever their case
        assert not await repo.insert_login(conn, **taken)
        assert await conn.fetchval("SELECT count(*) FROM logins WHERE id = $1", taken["login_id"]) == 0
        assert await conn.fetchval("SELECT count(*) FROM password_tokens WHERE token_hash = $1", taken["token_hash"]) == 0
    # the transaction above committed rows on a site of its own: remove them
    async with auth_pool.acquire() as conn:
        await conn.execute("DELETE FROM password_tokens WHERE login_id IN (SELECT id FROM logins WHERE site_id = $1)", site_id)
        await conn.execute("DELETE FROM logins WHERE site_id = $1", site_id)
        await conn.execute("DELETE FROM sites WHERE id = $1", site_id)
