"""SMTP delivery of queued messages: sent, retried with backoff on temporary failures, or held.

Each message is claimed with ``FOR UPDATE SKIP LOCKED`` (several notify workers never send the same
message), sent over SMTP while holding the claim, and its outcome recorded in that same transaction,
with ``notify.email.sent`` / ``notify.email.held`` written to the outbox in it too: one message, one
transaction, up to ``delivery_concurrency`` at once. 4xx answers and connection trouble are
temporary; 5xx answers are permanent.

Delivery is at least once: a worker killed after the SMTP server accepted a message and before its
transaction committed sends it again (nothing can ask an SMTP server what it accepted). One
transaction per message keeps that window to the moments between the server's 250 and the commit of
that one message (a batch held in one transaction re-sent the whole batch).
"""

import asyncio
import contextlib
from email.utils import parseaddr

import aiosmtplib

from shared.metrics import EMAILS_HELD, EMAILS_SENT
from services.notify import repository as repo
from shared.db import UnitOfWork
from shared.events.notify import EmailHeld, EmailSent
from shared.logging import bind_contextvars, get_logger
from shared.worker import ListeningWorker

log = get_logger("notify.delivery")


class PermanentFailure(Exception):
    pass


class TemporaryFailure(Exception):
    pass


class Delivery(ListeningWorker):
    name = "delivery"

    def __init__(self, settings, pool) -> None:
        super().__init__(settings, pool, "notify_outgoing", poll_seconds=1.0)
        self.sender = parseaddr(settings.mail_from)[1]

    async def work_once(self) -> bool:
        # Each send holds a connection of the pool: leave room for the consumer and the relay.
        at_once = max(1, min(self.settings.delivery_concurrency, self.settings.db_pool_max // 2))
        sent = await asyncio.gather(*(self._deliver_one() for _ in range(at_once)))
        return all(sent)

    async def _deliver_one(self) -> bool:
        """Claim one due message, send it, record the outcome, commit. False when none was due.
        The SMTP session's QUIT waits until the outcome is committed: it is not in the window."""
        client = None
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await repo.claim_due(conn, 1)
                if not rows:
                    return False
                row = rows[0]
                try:
                    client = await self.send(row["to_address"], row["mime"])
                    result = None
                except Exception as exc:  # PermanentFailure, TemporaryFailure, or anything else: temporary
                    result = exc
                await self._record(conn, row, result)
                return True
        finally:
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.quit()

    async def _record(self, conn, row, result) -> None:
        message_id = str(row["id"])
        bind_contextvars(correlation_id=row["correlation_id"])
        uow = UnitOfWork(conn, producer=self.settings.service, correlation_id=row["correlation_id"], causation_id=None)
        about = dict(message_id=row["id"], site_id=row["site_id"], contact_id=row["contact_id"], template=row["template"])
        if result is None:
            await repo.mark_sent(conn, row["id"])
            if row["site_id"] is not None:
                await uow.publish(EmailSent(**about))
            EMAILS_SENT.inc()
            log.info("email.sent", message_id=message_id)
        elif isinstance(result, PermanentFailure):
            reason = f"rejected by the mail server: {result}"
            await repo.mark_held(conn, row["id"], reason)
            if row["site_id"] is not None:
                await uow.publish(EmailHeld(**about, reason=reason))
            EMAILS_HELD.labels(reason="rejected").inc()
            log.warning("email.held", message_id=message_id, reason="permanent_failure")
        else:
            attempts = row["attempts"] + 1
            reason = f"temporary failure: {result}"
            if attempts >= self.settings.delivery_max_attempts:
                reason = f"gave up after {attempts} attempts; last {reason}"
                await repo.mark_held(conn, row["id"], reason)
                if row["site_id"] is not None:
                    await uow.publish(EmailHeld(**about, reason=reason))
                EMAILS_HELD.labels(reason="too_many_attempts").inc()
                log.warning("email.held", message_id=message_id, reason="too_many_attempts")
            else:
                delay = self.settings.delivery_backoff_seconds * 2 ** (attempts - 1)
                await repo.postpone(conn, row["id"], reason, delay)
                log.info("email.retry_scheduled", message_id=message_id, attempt=attempts, delay_seconds=delay)

    async def send(self, to: str, mime: bytes) -> aiosmtplib.SMTP:
        """Send one message; → the SMTP session, still open (the caller QUITs it after recording)."""
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            use_tls=s.smtp_tls == "tls",
            start_tls=True if s.smtp_tls == "starttls" else False,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout=s.smtp_timeout,
        )
        try:
            await client.connect()
            await client.sendmail(self.sender, [to], mime)
            return client
        except aiosmtplib.SMTPRecipientsRefused as exc:
            client.close()
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(text) from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise (PermanentFailure if exc.code >= 500 else TemporaryFailure)(f"{exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            client.close()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            client.close()
            raise
