"""The operator's dead letters: any service's, every site's (``shared/dead_letters.py`` does the work,
under the same lock as the services' admin API, so an admin looking at the same time finds the
queue whole). Site admins see their own site's through the gateway (``/admin/api/dead-letters``)."""

import contextlib
from datetime import timedelta

import aio_pika
import asyncpg

from shared import dead_letters
from shared.bus import Bus
from shared.dead_letters import DeadLetter, NoSuchQueue, TooManyDeadLetters, too_old_message

__all__ = ["DeadLetter", "NoSuchQueue", "TooManyDeadLetters", "list_dead_letters", "replay", "too_old_message"]


@contextlib.asynccontextmanager
async def _locked(settings, service: str):
    queue_name = f"{settings.bus_prefix}{service}.events.dead"
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with dead_letters.one_at_a_time(conn, queue_name):
            yield queue_name
    finally:
        await conn.close()


async def list_dead_letters(settings, service: str, limit: int = 100) -> list[DeadLetter]:
    async with _locked(settings, service) as queue_name:
        connection = await aio_pika.connect(settings.amqp_url)
        try:
            return (await dead_letters.look(await connection.channel(), queue_name))[:limit]
        finally:
            await connection.close()


async def replay(settings, service: str, message_ids: set[str] | None) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Republish the dead letters whose ids are given (all of them when ``message_ids`` is None), except
    those older than ``CC_INBOX_RETENTION_DAYS`` → (replayed, refused as too old)."""
    async with _locked(settings, service) as queue_name:
        bus = Bus(settings)
        await bus.connect()
        try:
            channel = await bus.connection.channel()
            return await dead_letters.replay(
                bus, channel, queue_name, lambda d: message_ids is None or d.message_id in message_ids,
                max_age=timedelta(days=settings.inbox_retention_days),
            )
        finally:
            await bus.close()
