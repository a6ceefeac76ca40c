"""The chaos tests' own system: a PostgreSQL cluster, a RabbitMQ node and the six services that
these tests may kill and restart (never the machine's shared ones), and an SMTP server."""

import asyncpg
import pytest

from tests.chaos.harness import ChaosSystem, free_port
from tests.chaos.smtp_sink import SmtpSink

CHAOS_DIR = __file__.rsplit("/", 1)[0]


def pytest_collection_modifyitems(items):
    """The first chaos test starts, and the last stops, a PostgreSQL, a RabbitMQ node and six
    services of their own: on a loaded machine that alone took most of the suite's 120 s (a timeout
    ends the run without its teardown and leaves them running)."""
    for item in items:
        if str(item.fspath).startswith(CHAOS_DIR):
            item.add_marker(pytest.mark.timeout(300))


@pytest.fixture(scope="session")
def chaos_smtp(tmp_path_factory):
    """The SMTP server in a process of its own (smtp_sink.py), as a real one."""
    sink = SmtpSink(free_port(), tmp_path_factory.mktemp("chaos-smtp") / "received")
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture(scope="session")
async def chaos(chaos_smtp):
    cs = ChaosSystem(chaos_smtp.port)
    try:
        await cs.start()
        yield cs
    finally:
        await cs.stop()


@pytest.fixture(scope="session")
async def chaos_db(chaos):
    pool = await asyncpg.create_pool(chaos.database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()
