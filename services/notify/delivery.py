"""SMTP delivery of queued messages: sent, retried with backoff on temporary failures, or held.

Each message is claimed with ``FOR UPDATE SKIP LOCKED`` (several notify workers never send the same
message), up to ``delivery_concurrency`` at once. 4xx answers and connection trouble are temporary;
5xx answers are permanent.

An SMTP server takes a message when it reads the final ``.`` of DATA, not before: a session cut
anywhere earlier (the worker killed while connecting, in MAIL, RCPT or the body) delivers nothing.
So the states and their commits are sequenced around that one line:

1. claim the message, open the session, send MAIL, RCPT, DATA and the body, all but the final ``.``;
   then commit ``status = 'sending'`` (with ``sending_at``). A crash before this commit leaves the
   message ``queued`` and the server's transaction unfinished: sending it again is not a duplicate.
2. write the ``.`` and read the answer;
3. on ``250``, one statement commits ``sent``, deletes the rendered body and writes
   ``notify.email.sent`` to the outbox (one round trip: the window is as short as we can make it).
   Any other answer is recorded as before (4xx postponed, 5xx held): the server did not take it.

The only messages whose delivery is unknown are those left in ``sending``: the worker died (or the
connection broke) between step 1's commit and step 3's. The server may or may not have taken it, and
nothing can ask it. The rule (``recover_uncertain``): a message ``sending`` for longer than a live
worker can be there (``delivery_uncertain_seconds``, above ``smtp_timeout``) is queued again and sent
with the same ``Message-ID`` (derived from the event and the template), counted in
``uncertain_resends``. At least once, on purpose: a lost welcome email (and its set-password link)
is worse than a second copy that mail clients can recognise as the same message.

SMTP sessions are kept open and reused (``SmtpSessions``): a message takes an idle session (checked
with NOOP when it has been idle a while), or opens one; the session goes back only after the
message's outcome committed, and only when the send succeeded (a failed session is closed). A
reused session that turns out dead before the final ``.`` (nothing taken) is replaced once, at once.
"""

import asyncio
import contextlib
import re
import time
from email.utils import parseaddr

import aiosmtplib

from shared.events import Envelope
from shared.faults import crash_point
from shared.metrics import EMAILS_HELD, EMAILS_SENT
from services.notify import repository as repo
from shared.db import UnitOfWork
from shared.events.notify import EmailHeld, EmailSent
from shared.logging import bind_contextvars, get_logger
from shared.worker import ListeningWorker

log = get_logger("notify.delivery")

_LONE_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_PERIOD = re.compile(rb"(?m)^\.")


class PermanentFailure(Exception):
    pass


class TemporaryFailure(Exception):
    pass


class UncertainFailure(TemporaryFailure):
    """No answer to the final ``.``: the server may have taken the message."""


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
        # A live worker is in 'sending' at most for the answer to the "." (smtp_timeout) and a commit.
        self.uncertain_after = settings.delivery_uncertain_seconds
        self._next_recovery = 0.0
        self.smtp = SmtpSessions(settings)

    async def stop(self) -> None:
        await super().stop()
        await self.smtp.close()

    async def work_once(self) -> bool:
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self.uncertain_after / 2
            await self.recover_uncertain()
        # One first: a wake-up for one email (the usual case) claims once, not ``at_once`` times.
        if not await self._deliver_one():
            return False
        # Each send holds a connection of the pool: leave room for the consumer and the relay.
        at_once = max(1, min(self.settings.delivery_concurrency, self.settings.db_pool_max // 2))
        sent = await asyncio.gather(*(self._deliver_one() for _ in range(at_once)))
        return all(sent)

    async def recover_uncertain(self) -> int:
        """Queue again the messages a dead worker left in 'sending' (see the module's docstring)."""
        async with self.pool.acquire() as conn:
            ids = await repo.requeue_uncertain(conn, self.uncertain_after)
        for message_id in ids:
            log.warning("email.uncertain_resend", message_id=str(message_id))
        return len(ids)

    async def _deliver_one(self) -> bool:
        """Claim one due message and deliver it (steps 1-3 of the module's docstring). False when
        none was due. The SMTP session goes back to the pool (or QUITs) only after the outcome is
        committed, and only when the server took the message."""
        session = None
        delivered = False
        try:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    rows = await repo.claim_due(conn, 1)
                    if not rows:
                        return False
                    row = rows[0]
                    try:
                        session = await self.send_all_but_the_end(row["to_address"], row["mime"])
                    except Exception as exc:  # PermanentFailure, TemporaryFailure, or anything else: temporary
                        await self._record_failure(conn, row, exc)
                        return True
                    await repo.mark_sending(conn, row["id"])
                crash_point("notify.before_end_of_data")
                window = (time.time(), time.perf_counter())
                try:
                    await self.end_data(session.client)
                except Exception as exc:
                    async with conn.transaction():
                        await self._record_failure(conn, row, exc)
                    return True
                crash_point("notify.after_accepted")
                await self._record_sent(conn, row, window)
                delivered = True
                return True
        finally:
            if session is not None:
                if delivered:
                    await self.smtp.give_back(session)
                else:
                    session.client.close()

    async def _record_sent(self, conn, row, window=None) -> None:
        bind_contextvars(correlation_id=row["correlation_id"])
        event = None
        if row["site_id"] is not None:
            event = Envelope.wrap(
                EmailSent(message_id=row["id"], site_id=row["site_id"], contact_id=row["contact_id"], template=row["template"]),
                producer=self.settings.service, correlation_id=row["correlation_id"], causation_id=None,
            )
        await repo.mark_sent(conn, row["id"], event, window)
        EMAILS_SENT.inc()
        log.info("email.sent", message_id=str(row["id"]))

    async def _record_failure(self, conn, row, result: Exception) -> None:
        message_id = str(row["id"])
        bind_contextvars(correlation_id=row["correlation_id"])
        uow = UnitOfWork(conn, producer=self.settings.service, correlation_id=row["correlation_id"], causation_id=None)
        about = dict(message_id=row["id"], site_id=row["site_id"], contact_id=row["contact_id"], template=row["template"])

        async def hold(reason: str, label: str, why: str) -> None:
            await repo.mark_held(conn, row["id"], reason)
            if row["site_id"] is not None:
                await uow.publish(EmailHeld(**about, reason=reason))
            EMAILS_HELD.labels(reason=label).inc()
            log.warning("email.held", message_id=message_id, reason=why)

        if isinstance(result, PermanentFailure):
            await hold(f"rejected by the mail server: {result}", "rejected", "permanent_failure")
            return
        attempts = row["attempts"] + 1
        reason = f"temporary failure: {result}"
        if attempts >= self.settings.delivery_max_attempts:
            await hold(f"gave up after {attempts} attempts; last {reason}", "too_many_attempts", "too_many_attempts")
        else:
            delay = self.settings.delivery_backoff_seconds * 2 ** (attempts - 1)
            uncertain = isinstance(result, UncertainFailure)
            await repo.postpone(conn, row["id"], reason, delay, uncertain=uncertain)
            log.info("email.retry_scheduled", message_id=message_id, attempt=attempts, delay_seconds=delay,
                     uncertain=uncertain)

    # --- the SMTP transport: one message per session, its DATA ended apart ---

    async def send_all_but_the_end(self, to: str, mime: bytes) -> Session:
        """MAIL, RCPT, DATA and the (dot-stuffed) body on a pooled session, but not the final ``.``:
        the server has not taken the message yet. → the session, for ``end_data``.

        A reused session the server had dropped (or closes with 421) fails before anything was
        taken: the message starts again at once on a new session."""
        session = await self._session()
        try:
            await self._begin_data(session.client, to, mime)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError, aiosmtplib.SMTPResponseException) as exc:
            closing = getattr(exc, "code", 421) == 421  # 421: the server is closing this session
            session.client.close()
            if not (session.reused and closing):
                raise _as_failure(exc) from None
            session = await self._session(fresh=True)
            try:
                await self._begin_data(session.client, to, mime)
            except Exception as exc:
                session.client.close()
                raise _as_failure(exc) from None
        except Exception as exc:
            session.client.close()
            raise _as_failure(exc) from None
        return session

    async def _begin_data(self, client: aiosmtplib.SMTP, to: str, mime: bytes) -> None:
        await client.mail(self.sender)
        await client.rcpt(to)
        response = await client.execute_command(b"DATA")
        if response.code != 354:
            raise aiosmtplib.SMTPDataError(response.code, response.message)
        body = _LONE_LINE_ENDS.sub(b"\r\n", mime)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        client.protocol.write(_LEADING_PERIOD.sub(b"..", body))

    async def _session(self, fresh: bool = False) -> Session:
        try:
            return await (self.smtp.open() if fresh else self.smtp.take())
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None

    async def end_data(self, client: aiosmtplib.SMTP) -> None:
        """The final ``.``; returns when the server answered 250 (it has taken the message)."""
        try:
            response = await client.execute_command(b".")
        except Exception as exc:
            client.close()
            raise _as_failure(exc, after_end=True) from None
        if response.code != 250:
            client.close()
            raise _as_failure(aiosmtplib.SMTPDataError(response.code, response.message))


def _as_failure(exc: BaseException, after_end: bool = False) -> Exception:
    """aiosmtplib's errors as ours: a 5xx answer is permanent, a 4xx temporary (a refused recipient
    too); no answer after the final ``.`` is uncertain (the server may have taken it), before it
    temporary."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return (PermanentFailure if all(c >= 500 for c in codes) else TemporaryFailure)(text)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return (PermanentFailure if exc.code >= 500 else TemporaryFailure)(f"{exc.code} {exc.message}")
    if isinstance(exc, (PermanentFailure, TemporaryFailure)):
        return exc
    return (UncertainFailure if after_end else TemporaryFailure)(f"{type(exc).__name__}: {exc}")
