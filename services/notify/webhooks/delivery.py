"""Delivering webhooks: claimed with ``FOR UPDATE SKIP LOCKED``, POSTed signed, every attempt logged;
a non-2xx answer or no answer is retried with exponential backoff (capped) for a day, then failed."""

import asyncio
import time

import aiohttp

from services.notify import repository as repo
from services.notify.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from shared.logging import get_logger
from shared.worker import ListeningWorker

log = get_logger("notify.webhooks")


class WebhookDelivery(ListeningWorker):
    name = "webhooks"

    def __init__(self, settings, pool) -> None:
        super().__init__(settings, pool, "notify_webhook_deliveries", poll_seconds=1.0)
        self.session: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        await super().stop()
        if self.session is not None:
            await self.session.close()

    async def work_once(self) -> bool:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.webhook_timeout))
        limit = self.settings.delivery_concurrency
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await repo.claim_due_deliveries(conn, limit)
            if not rows:
                return False
            results = await asyncio.gather(*(self.post(r) for r in rows))
            now = await conn.fetchval("SELECT now()")
            for row, (status, error, duration_ms) in zip(rows, results):
                n = row["attempts"] + 1
                if status is not None and 200 <= status < 300:
                    outcome, retry_in = "delivered", None
                elif (now - row["window_start"]).total_seconds() >= self.settings.webhook_retry_hours * 3600:
                    outcome, retry_in = "failed", None
                else:
                    outcome = "pending"
                    retry_in = min(self.settings.delivery_backoff_seconds * 2 ** (n - 1), self.settings.webhook_max_backoff_seconds)
                await repo.record_attempt(
                    conn, row["id"], n=n, status_code=status, error=error, duration_ms=duration_ms, outcome=outcome, retry_in_seconds=retry_in
                )
                log.info(
                    f"webhook.{outcome}", delivery_id=str(row["id"]), event_id=str(row["event_id"]), attempt=n, status=status
                )
            return len(rows) == limit

    async def post(self, row) -> tuple[int | None, str | None, int]:
        body = row["body"].encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "customer-center-webhooks/1",
            "X-CC-Webhook-Id": str(row["id"]),
            "X-CC-Event-Id": str(row["event_id"]),
            "X-CC-Event-Type": row["event_type"],
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(row["secret"], timestamp, body),
        }
        started = time.monotonic()
        try:
            async with self.session.post(row["url"], data=body, headers=headers, allow_redirects=False) as response:
                await response.content.read(1024)  # never stored: only the status counts
                status, error = response.status, None if response.status < 300 else f"HTTP {response.status}"
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            status, error = None, type(exc).__name__
        return status, error, int((time.monotonic() - started) * 1000)
