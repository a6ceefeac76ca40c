"""The failed-login counts in auth's table, against the run's real database."""

import uuid

import asyncpg
import pytest

from services.auth import repository as repo
from services.auth.domain import Throttled
from services.auth.settings import AuthSettings
from services.auth.throttle import Throttle


@pytest.fixture
async def conn(database_url):
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "auth"})
    yield connection
    await connection.close()


def key() -> str:
    return f"name:test:{uuid.uuid4().hex}"


async def test_failures_count_up_within_the_window_and_start_again_after_it(conn):
    k = key()
    counts = [(await repo.count_failure(conn, k, window_seconds=900))["failures"] for _ in range(3)]
    assert counts == [1, 2, 3]
    await conn.execute("UPDATE login_throttle SET last_failure_at = now() - interval '16 minutes' WHERE key = $1", k)
    assert (await repo.count_failure(conn, k, window_seconds=900))["failures"] == 1


async def test_the_tenth_failure_locks_and_the_next_lock_lasts_twice_as_long(conn):
    throttle, k = Throttle(AuthSettings(login_delay_base_seconds=0, login_delay_cap_seconds=0)), key()
    for _ in range(10):
        await throttle.failed(conn, await throttle.attempt(conn, k))
    with pytest.raises(Throttled) as refused:
        await throttle.attempt(conn, k)
    assert 890 <= refused.value.retry_after <= 901
    await conn.execute("UPDATE login_throttle SET locked_until = now() - interval '1 second' WHERE key = $1", k)
    for _ in range(10):
        await throttle.failed(conn, await throttle.attempt(conn, k))
    with pytest.raises(Throttled) as refused:
        await throttle.attempt(conn, k)
    assert 1790 <= refused.value.retry_after <= 1801


async def test_a_right_password_clears_the_account_and_takes_its_attempt_back_from_the_address(conn):
    throttle, account, address = Throttle(AuthSettings()), key(), f"addr:{uuid.uuid4().hex}"
    await throttle.failed(conn, await throttle.attempt(conn, account, address))
    await throttle.succeeded(conn, await throttle.attempt(conn, account, address))
    assert await repo.count_state(conn, account) is None
    assert (await repo.count_state(conn, address))["failures"] == 1


async def test_old_counts_are_forgotten_but_a_key_that_was_locked_is_kept_a_day(conn):
    stale, was_locked, fresh = key(), key(), key()
    for k in (stale, was_locked, fresh):
        await repo.count_failure(conn, k, window_seconds=900)
    await conn.execute("UPDATE login_throttle SET last_failure_at = now() - interval '1 hour' WHERE key = ANY($1)",
                       [stale, was_locked])
    await conn.execute("UPDATE login_throttle SET locks = 1 WHERE key = $1", was_locked)
    await repo.forget_old_failures(conn, 900)
    remaining = {r["key"] for r in await conn.fetch("SELECT key FROM login_throttle WHERE key = ANY($1)", [stale, was_locked, fresh])}
    assert remaining == {was_locked, fresh}
