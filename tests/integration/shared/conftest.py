"""In-process bus pieces (bus, relay, consumer) against the real broker and this run's database."""

import uuid
from pathlib import Path

import pytest

from shared.bus import Bus
from shared.db import create_pool, migrate
from shared.settings import ServiceSettings
from tests.conftest import AMQP_URL


@pytest.fixture
async def service(database_url, bus_prefix, tmp_path):
    """A throwaway service: its own schema (outbox and inbox only) and its own queue names."""
    name = "svc_" + uuid.uuid4().hex[:8]
    # An exchange of its own: the running system's notify binds a sink to '#' on the run's exchange,
    # which makes every event routable (and the unroutable test meaningless).
    prefix = f"{bus_prefix}{name}."
    (tmp_path / "migrations").mkdir()
    settings = ServiceSettings(
        service=name,
        database_url=database_url,
        amqp_url=AMQP_URL,
        bus_prefix=prefix,
        delivery_limit=3,
        redelivery_backoff_seconds=0.01,
        outbox_poll_seconds=0.2,
        prefetch=8,
    )
    await migrate(database_url, name, Path(tmp_path))
    pool = await create_pool(settings, name)
    bus = Bus(settings)
    await bus.connect()
    yield settings, pool, bus
    for queue in (settings.queue_name, settings.dead_letter_queue_name):
        await bus.channel.queue_delete(queue)
    for exchange in (settings.exchange_name, settings.dead_letter_exchange_name):
        await bus.channel.exchange_delete(exchange)
    await bus.close()
    await pool.close()
