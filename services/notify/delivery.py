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

SMTP sessions are kept open and reused (``SmtpSessions``): a message takes an idle session (checked
with NOOP when it has been idle a while), or opens one; the session goes back only after the
message's outcome committed, and only when the send succeeded (a failed session is closed). A
reused session that turns out dead before the server accepted anything is replaced once, at once.
"""

import asyncio
import contextlib
import time
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


class Session:
    """One SMTP connection and what the pool needs to know about it."""

    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client = client
        self.sent = 0
        self.idle_since = time.monotonic()
        self.reused = False


class SmtpSessions:
    """At most ``smtp_pool_size`` idle SMTP sessions kept open; more may be in use at once. A session
    is closed after ``smtp_messages_per_session`` messages or ``smtp_idle_seconds`` idle."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._idle: list[Session] = []

    async def take(self) -> Session:
        while self._idle:
            session = self._idle.pop()
            idle = time.monotonic() - session.idle_since
            if not session.client.is_connected or idle > self.settings.smtp_idle_seconds:
                await self._end(session)
                continue
            if idle > self.settings.smtp_noop_after_seconds:
                try:
                    await session.client.noop()
                except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError):
                    session.client.close()
                    continue
            session.reused = True
            return session
        return await self.open()

    async def open(self) -> Session:
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
        await client.connect()
        return Session(client)

    async def give_back(self, session: Session) -> None:
        session.sent += 1
        if (
            session.client.is_connected
            and session.sent < self.settings.smtp_messages_per_session
            and len(self._idle) < self.settings.smtp_pool_size
        ):
            session.idle_since = time.monotonic()
            self._idle.append(session)
        else:
            await self._end(session)

    async def close(self) -> None:
        while self._idle:
            await self._end(self._idle.pop())

    @staticmethod
    async def _end(session: Session) -> None:
        with contextlib.suppress(Exception):
            if session.client.is_connected:
                await session.client.quit()
        session.client.close()


class Delivery(ListeningWorker):
    name = "delivery"

    def __init__(self, settings, pool) -> None:
        super().__init__(settings, pool, "notify_outgoing", poll_seconds=1.0)
        self.sender = parseaddr(settings.mail_from)[1]
        self.smtp = SmtpSessions(settings)

    async def stop(self) -> None:
        await super().stop()
        await self.smtp.close()

    async def work_once(self) -> bool:
        # One first: a wake-up for one email (the usual case) claims once, not ``at_once`` times.
        if not await self._deliver_one():
            return False
        # Each send holds a connection of the pool: leave room for the consumer and the relay.
        at_once = max(1, min(self.settings.delivery_concurrency, self.settings.db_pool_max // 2))
        sent = await asyncio.gather(*(self._deliver_one() for _ in range(at_once)))
        return all(sent)

    async def _deliver_one(self) -> bool:
        """Claim one due message, send it, record the outcome, commit. False when none was due.
        The SMTP session goes back to the pool (or QUITs) only once the outcome is committed: it is
        not in the window."""
        session = None
        committed = False
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                rows = await repo.claim_due(conn, 1)
                if not rows:
                    return False
                row = rows[0]
                try:
                    session = await self.send(row["to_address"], row["mime"])
                    result = None
                except Exception as exc:  # PermanentFailure, TemporaryFailure, or anything else: temporary
                    result = exc
                await self._record(conn, row, result)
            committed = True
            return True
        finally:
            if session is not None:
                if committed:
                    await self.smtp.give_back(session)
                else:
                    session.client.close()

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

    async def send(self, to: str, mime: bytes) -> Session:
        """Send one message; → its SMTP session, still open (given back after the outcome is recorded).

        A reused session the server had dropped (or closes with 421) fails before the server accepted
        anything: the message is sent at once on a new session."""
        session = await self._session()
        try:
            try:
                await session.client.sendmail(self.sender, [to], mime)
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError, aiosmtplib.SMTPResponseException) as exc:
                closing = getattr(exc, "code", 421) == 421  # 421: the server is closing this session
                if not (session.reused and closing):
                    raise
                session.client.close()
                session = await self._session(fresh=True)
                await session.client.sendmail(self.sender, [to], mime)
            return session
        except aiosmtplib.SMTPRecipientsRefused as exc:
            session.client.close()
            codes = [r.code for r in exc.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(text) from None
        except aiosmtplib.SMTPResponseException as exc:
            session.client.close()
            raise (PermanentFailure if exc.code >= 500 else TemporaryFailure)(f"{exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            session.client.close()
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            session.client.close()
            raise

    async def _session(self, fresh: bool = False) -> Session:
        try:
            return await (self.smtp.open() if fresh else self.smtp.take())
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None
