"""A background loop woken by PostgreSQL LISTEN/NOTIFY, with polling as a fallback.

A missed notification or a dropped LISTEN connection only delays work, never loses it. Subclasses
implement ``work_once``, which does one batch and returns whether a full batch was done (so there
may be more right away).
"""

import asyncio
import contextlib

import asyncpg

from shared.logging import get_logger

log = get_logger("shared.worker")


class ListeningWorker:
    name = "worker"

    def __init__(self, settings, pool: asyncpg.Pool, channel: str, poll_seconds: float) -> None:
        self.settings = settings
        self.pool = pool
        self.channel = channel
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def work_once(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Finish the batch in hand, do what is already due, and stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self.settings.shutdown_timeout)
            except asyncio.TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _drain(self) -> None:
        while await self.work_once() and not self._stopping:
            pass

    async def _run(self) -> None:
        listener = asyncio.create_task(self._listen(), name=f"{self.name}-listen")
        try:
            while not self._stopping:
                try:
                    await self._drain()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning(f"{self.name}.database_unavailable", error=str(exc))
                    await asyncio.sleep(0.5)
                except Exception as exc:
                    log.warning(f"{self.name}.failed", error=repr(exc))
                    await asyncio.sleep(0.5)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
                self._wake.clear()
            with contextlib.suppress(Exception):
                await self.work_once()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self.settings.database_url)
                await conn.add_listener(self.channel, lambda *_: self._wake.set())
                self._wake.set()  # catch up on anything committed while we were not listening
                while not conn.is_closed():
                    await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(f"{self.name}.listen_failed", error=str(exc))
                await asyncio.sleep(1.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close())
