"""SMTP delivery of queued messages: sent, retried with backoff on temporary failures, or held.

Messages are claimed with ``FOR UPDATE SKIP LOCKED`` (several notify workers never send the same
message), up to ``delivery_concurrency`` in one transaction (a batch: one claim, one ``sending``
update, one commit for all of them; their sessions are opened and their bodies written at the same
time). 4xx answers and connection trouble are temporary; 5xx answers are permanent.

An SMTP server takes a message when it reads the final ``.`` of DATA, not before: a session cut
anywhere earlier (the worker killed while connecting, in MAIL, RCPT or the body) delivers nothing.
So the states and their commits are sequenced around that one line:

1. claim the messages, open a session each, send MAIL, RCPT, DATA and the body, all but the final
   ``.``; then commit ``status = 'sending'`` (with ``sending_at``). A crash before this commit leaves the
   message ``queued`` and the server's transaction unfinished: sending it again is not a duplicate.
2. for each message in turn, write the ``.`` and read the answer (a message of the batch waits in
   ``sending`` for the ones before it: killed there, it is sent again later although the server never
   had it, a delay and not a copy);
3. on ``250``, one statement commits ``sent``, deletes the rendered body and writes
   ``notify.email.sent`` to the outbox (one round trip: the window is as short as we can make it).
   Any other answer is recorded as before (4xx postponed, 5xx held): the server did not take it.

Between writing the ``.`` and writing that statement nothing else of the process runs: the answer is
read on the socket itself with the event loop held (``end_data_at_once``, up to
``smtp_answer_wait_seconds``; a slower server or a TLS session is waited for through the loop), the
statement and its event are built before the ``.``, and it is written on the ``Recorder``'s
connection, where it is prepared (no pool, no parse round trip). One message at a time goes through
that step, so a kill finds at most one message there (unless the server is slower than the wait).
Each sent message records the window it spent there (``end_of_data_at``, ``window_us``).

The only messages whose delivery is unknown are those left in ``sending``: the worker died (or the
connection broke) between step 1's commit and step 3's. The server may or may not have taken it, and
nothing can ask it. The rule (``recover_uncertain``): a message ``sending`` for longer than a live
worker can be there (``delivery_uncertain_seconds``, above ``smtp_timeout``) is queued again and sent
with the same ``Message-ID`` (derived from the event and the template), counted in
``uncertain_resends``. At least once, on purpose: a lost welcome email (and its set-password link)
is worse than a second copy that mail clients can recognise as the same message.

SMTP sessions are kept open and reused (``SmtpSessions``): a message takes an idle session (checked
with NOOP when it has been idle a while), or opens one; the session goes back only after the
message's outcome committed, and only when the send succeeded (a failed session is closed), and then
sends its next message's MAIL FROM at once. A reused session that turns out dead before the final
``.`` (nothing taken) is replaced once, at once.

The express lane (``Beginning``): an email an event's handler queues does step 1 inside the event's
own transaction, on an idle session, and is inserted 'sending'; steps 2 and 3 follow that
transaction's commit at once, before the event is acked. Same states, same windows, no wake-up,
claim or commit of the worker's; anything that does not get that far leaves it to the worker.
"""

import asyncio
import contextlib
import math
import os
import re
import select
import time
from datetime import datetime, timezone
from email.utils import parseaddr
from uuid import UUID

import aiosmtplib
import asyncpg

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
        self.mail_ahead: asyncio.Task | None = None  # MAIL for the next message, sent when it went idle

    async def mail(self, sender: str) -> None:
        """MAIL FROM for this session's next message, or the answer to the one sent ahead."""
        ahead, self.mail_ahead = self.mail_ahead, None
        await (ahead if ahead is not None else self.client.mail(sender))


class SmtpSessions:
    """At most ``smtp_pool_size`` idle SMTP sessions kept open; more may be in use at once. A session
    is closed after ``smtp_messages_per_session`` messages or ``smtp_idle_seconds`` idle. A session
    that goes idle sends the MAIL FROM of its next message at once (the envelope sender is always
    ``sender``): the next message starts at RCPT. A mail transaction that holds only its sender is
    nothing to the server; QUIT or a dropped connection ends it."""

    def __init__(self, settings, sender: str = "") -> None:
        self.settings = settings
        self.sender = sender
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

    def take_fresh(self) -> Session | None:
        """The most recently used idle session if it needs no NOOP first (``take``), else None: no
        round trip, no connecting."""
        while self._idle:
            session = self._idle[-1]
            if not session.client.is_connected:
                self._idle.pop().client.close()
                continue
            if time.monotonic() - session.idle_since > self.settings.smtp_noop_after_seconds:
                return None  # left for ``take``, which checks it
            session.reused = True
            return self._idle.pop()
        return None

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
            if self.sender:
                session.mail_ahead = asyncio.ensure_future(session.client.mail(self.sender))
                session.mail_ahead.add_done_callback(_retrieved)  # a failure shows when it is awaited
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


class Recorder:
    """A database connection of delivery's own with ``MARK_SENT`` prepared on it: the record of a
    250 is written at once (no pool to wait for, no statement to parse, no round trip first)."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._conn: asyncpg.Connection | None = None
        self._statement = None

    async def ready(self):
        """→ the prepared statement (connecting and preparing first if needed: before the ".")."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(
                self.settings.database_url,
                server_settings={"search_path": self.settings.service, "application_name": f"cc-{self.settings.service}-sent"},
            )
            try:
                self._statement = await self._conn.prepare(repo.MARK_SENT)
            except BaseException:
                await self.close()
                raise
        return self._statement

    def broken(self) -> None:
        """The statement failed: connect again next time."""
        if self._conn is not None:
            self._conn.terminate()
        self._conn = None

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close(timeout=2)
            self._conn = None


class ExpressLane:
    """The running ``Delivery``, for the event handlers, which are made before it starts: while it is
    None (starting, stopping, or a test's app without it) every message goes through the worker."""

    delivery: "Delivery | None" = None

    def begin_in(self, uow: UnitOfWork, to: str | None) -> "Beginning | None":
        """``Delivery.begin_in`` on the running delivery; None when there is none."""
        return self.delivery.begin_in(uow, to) if self.delivery is not None else None


class Delivery(ListeningWorker):
    name = "delivery"

    def __init__(self, settings, pool) -> None:
        super().__init__(settings, pool, "notify_messages", poll_seconds=1.0)
        self.sender = parseaddr(settings.mail_from)[1]
        # A live worker is in 'sending' at most for the answer to the "." (smtp_timeout) and a commit.
        self.uncertain_after = settings.delivery_uncertain_seconds
        self._next_recovery = 0.0
        self.smtp = SmtpSessions(settings, self.sender)
        self.recorder = Recorder(settings)
        # One message at a time from its "." to the record of its 250 (the recorder is one connection).
        self._finishing = asyncio.Lock()

    async def stop(self) -> None:
        await super().stop()
        await self.smtp.close()
        await self.recorder.close()

    # --- the express lane: begun in the transaction that queues the message, ended after its commit ---

    def begin_in(self, uow: UnitOfWork, to: str | None) -> "Beginning | None":
        """An SMTP transaction for a message the caller's transaction is about to queue, begun on an
        idle session at once (MAIL, RCPT and DATA go out while the caller renders the message); see
        ``Beginning``. None: the worker sends it (no idle session that needs no NOOP, no valid
        address, a unit of work whose owner does not settle it, stopping, or the lane is off)."""
        wait = self.settings.smtp_express_seconds
        if wait <= 0 or self._stopping or not uow.settles or not to or "@" not in to:
            return None
        session = self.smtp.take_fresh()
        if session is None:
            return None
        beginning = Beginning(self, session, to, asyncio.get_running_loop().time() + wait)
        uow.then(beginning.settle)
        return beginning

    async def _end_express(self, session: Session, row: dict) -> None:
        """Steps 2 and 3 of the worker for one message the express lane committed as 'sending'."""
        crash_point("notify.before_end_of_data")
        sent = repo.sent_args(row["id"], self._sent_event(row))
        try:
            await self._end_and_record(session.client, None, sent)
        except (PermanentFailure, TemporaryFailure) as exc:
            session.client.close()
            async with self.pool.acquire() as conn, conn.transaction():
                await self._record_failure(conn, row, exc)
            return
        except BaseException:
            session.client.close()
            raise  # the message stays 'sending': recover_uncertain sends it again
        EMAILS_SENT.labels(lane="express").inc()
        log.info("email.sent", message_id=str(row["id"]), express=True)
        await self.smtp.give_back(session)

    async def work_once(self) -> bool:
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + self.uncertain_after / 2
            await self.recover_uncertain()
        # One first: a wake-up for one email (the usual case) claims one, then what else is due in
        # batches of up to ``delivery_concurrency``.
        if not await self._deliver_batch(1):
            return False
        at_once = max(1, self.settings.delivery_concurrency)
        return await self._deliver_batch(at_once) == at_once

    async def recover_uncertain(self) -> int:
        """Queue again the messages a dead worker left in 'sending' (see the module's docstring)."""
        async with self.pool.acquire() as conn:
            ids = await repo.requeue_uncertain(conn, self.uncertain_after)
        for message_id in ids:
            log.warning("email.uncertain_resend", message_id=str(message_id))
        return len(ids)

    async def _deliver_batch(self, limit: int) -> int:
        """Claim up to ``limit`` due messages and deliver them (steps 1-3 of the module's docstring);
        → how many were claimed. One transaction claims them all, opens their sessions and sends
        everything but each one's final "." (at the same time, one session each), records the ones
        that failed there and commits 'sending' for the others in one statement; then each is ended
        and recorded in turn. A session goes back to the pool (or QUITs) only after its message's
        outcome is committed, and only when the server took the message."""
        sessions: dict = {}
        try:
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    rows = await repo.claim_due(conn, limit)
                    if not rows:
                        return 0
                    began = await asyncio.gather(
                        *(self.send_all_but_the_end(row["to_address"], row["mime"]) for row in rows),
                        return_exceptions=True,
                    )
                    ready = []
                    for row, outcome in zip(rows, began):
                        if isinstance(outcome, Session):
                            sessions[row["id"]] = outcome
                            ready.append(row)
                    for row, outcome in zip(rows, began):
                        if isinstance(outcome, Session):
                            continue
                        if not isinstance(outcome, Exception):  # cancelled: nothing of this batch commits
                            raise outcome
                        # PermanentFailure, TemporaryFailure, or anything else: temporary
                        await self._record_failure(conn, row, outcome)
                    if ready:
                        await repo.mark_sending(conn, [row["id"] for row in ready])
                for row in ready:
                    crash_point("notify.before_end_of_data")
                    sent = repo.sent_args(row["id"], self._sent_event(row))  # built before the "."
                    session = sessions.pop(row["id"])
                    try:
                        await self._end_and_record(session.client, conn, sent)
                    except (PermanentFailure, TemporaryFailure) as exc:  # the answer to the "." (or none)
                        session.client.close()
                        async with conn.transaction():
                            await self._record_failure(conn, row, exc)
                        continue
                    except BaseException:
                        session.client.close()
                        raise  # the others keep their 'sending' (no "." written): sent again later
                    EMAILS_SENT.labels(lane="worker").inc()
                    log.info("email.sent", message_id=str(row["id"]))
                    await self.smtp.give_back(session)
                return len(rows)
        finally:
            for session in sessions.values():  # not ended: the server discards what it was given
                session.client.close()

    async def _end_and_record(self, client: aiosmtplib.SMTP, conn: asyncpg.Connection | None, sent: tuple) -> None:
        """Step 2 and 3: the "." and, on 250, the record of it (``MARK_SENT``), with as little as
        possible between them: a kill there is a second copy. The answer is read from the socket
        without going back to the event loop (``end_data_at_once``), so no other task runs between
        the "." and the statement; the statement is prepared on the recorder's connection, so it is
        written at once. A server slower than ``smtp_answer_wait_seconds`` is waited for as usual,
        without holding up the other messages. Raises PermanentFailure/TemporaryFailure (the server
        did not take it, or may have: UncertainFailure)."""
        async with self._finishing:
            try:
                statement = await self.recorder.ready()
            except (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("delivery.recorder_unavailable", error=str(exc))
                statement = None  # recorded on the message's own connection instead
            end_of_data_at, started = time.time(), time.perf_counter()
            at = datetime.fromtimestamp(end_of_data_at, timezone.utc)
            if self.end_data_at_once(client):
                crash_point("notify.after_accepted")
                if statement is None:
                    await self._mark_sent(conn, sent, end_of_data_at, started)
                    return
                try:
                    await statement.fetchval(*sent, at, int((time.perf_counter() - started) * 1e6))
                except BaseException:
                    self.recorder.broken()
                    raise
                return
        await self.answer_to_end_data(client)
        crash_point("notify.after_accepted")
        await self._mark_sent(conn, sent, end_of_data_at, started)

    async def _mark_sent(self, conn: asyncpg.Connection | None, sent: tuple, end_of_data_at: float, started: float) -> None:
        """MARK_SENT on ``conn``, or on a pooled connection when there is none (the express lane's)."""
        if conn is not None:
            await repo.mark_sent(conn, sent, end_of_data_at, started)
            return
        async with self.pool.acquire() as pooled:
            await repo.mark_sent(pooled, sent, end_of_data_at, started)

    def _sent_event(self, row) -> Envelope | None:
        bind_contextvars(correlation_id=row["correlation_id"])
        if row["site_id"] is None:
            return None
        return Envelope.wrap(
            EmailSent(message_id=row["id"], site_id=row["site_id"], contact_id=row["contact_id"], template=row["template"]),
            producer=self.settings.service, correlation_id=row["correlation_id"], causation_id=None,
        )

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
            await self._begin_data(session, to, mime)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError, aiosmtplib.SMTPResponseException) as exc:
            closing = getattr(exc, "code", 421) == 421  # 421: the server is closing this session
            session.client.close()
            if not (session.reused and closing):
                raise _as_failure(exc) from None
            session = await self._session(fresh=True)
            try:
                await self._begin_data(session, to, mime)
            except Exception as exc:
                session.client.close()
                raise _as_failure(exc) from None
        except Exception as exc:
            session.client.close()
            raise _as_failure(exc) from None
        return session

    async def _begin_data(self, session: Session, to: str, mime: bytes) -> None:
        await self._open_data(session, to)
        self._body(session.client, mime)

    async def _open_data(self, session: Session, to: str) -> None:
        """MAIL (unless sent ahead), RCPT and DATA (its 354 read): the body may follow at once."""
        client = session.client
        await session.mail(self.sender)
        await client.rcpt(to)
        response = await client.execute_command(b"DATA")
        if response.code != 354:
            raise aiosmtplib.SMTPDataError(response.code, response.message)

    @staticmethod
    def _body(client: aiosmtplib.SMTP, mime: bytes) -> None:
        """The dot-stuffed body, all but the final ``.``."""
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
        if not self.end_data_at_once(client):
            await self.answer_to_end_data(client)

    def end_data_at_once(self, client: aiosmtplib.SMTP) -> bool:
        """Write the final ``.`` and wait up to ``smtp_answer_wait_seconds`` for the answer on the
        socket itself, without going back to the event loop (nothing else runs meanwhile). True: the
        server answered 250. False: no answer yet (or a TLS session, or the ``.`` still in the
        transport's buffer): ``answer_to_end_data`` waits for it. Raises on any other answer."""
        protocol = client.protocol
        transport = protocol.transport if protocol is not None else None
        if transport is None or transport.is_closing():
            client.close()
            raise TemporaryFailure("SMTPServerDisconnected: the session was lost before the end of the message")
        protocol.write(b".\r\n")
        wait = self.settings.smtp_answer_wait_seconds
        if wait <= 0 or transport.get_extra_info("sslcontext") is not None or transport.get_write_buffer_size():
            return False
        fd = transport.get_extra_info("socket").fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = time.perf_counter() + wait
        data = b""
        while (left := deadline - time.perf_counter()) > 0:
            if not poller.poll(math.ceil(left * 1000)):
                break
            try:
                chunk = os.read(fd, 4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                client.close()
                raise UncertainFailure(f"{type(exc).__name__}: {exc}") from None
            if not chunk:
                client.close()
                raise UncertainFailure("SMTPServerDisconnected: the session ended after the end of the message")
            data += chunk
            answer = _reply(data)
            if answer is None:
                continue
            if answer.code != 250:
                client.close()
                raise _as_failure(aiosmtplib.SMTPDataError(answer.code, answer.message))
            return True
        if data:  # part of an answer, and the rest late: whether it said 250 is unknown
            client.close()
            raise UncertainFailure(f"an incomplete answer to the end of the message: {data[:80]!r}")
        return False

    async def answer_to_end_data(self, client: aiosmtplib.SMTP) -> None:
        """The answer to a ``.`` already written, through the event loop; returns on 250."""
        try:
            response = await client.protocol.read_response(timeout=self.settings.smtp_timeout)
        except Exception as exc:
            client.close()
            raise _as_failure(exc, after_end=True) from None
        if response.code != 250:
            client.close()
            raise _as_failure(aiosmtplib.SMTPDataError(response.code, response.message))


class Beginning:
    """The express lane's SMTP transaction for one message, inside the transaction that queues it
    (``Delivery.begin_in``): MAIL, RCPT and DATA at once, the body when the message is rendered
    (``data``), all within ``smtp_express_seconds`` of the start, which bounds how long the caller's
    transaction waits for the server. Then the caller inserts the message 'sending' (``sending``)
    and it commits with the event that caused it; its "." follows the commit (``settle``), without
    the worker's wake-up, claim and commit of its own. The states and windows are the worker's:
    killed before the commit, nothing was taken and the event is delivered again; killed after it,
    the message is 'sending' and ``recover_uncertain`` sends it again. Whatever did not get that far
    (the server slow or refusing, the message held or already there, a rollback) closes the session,
    and the server drops the unfinished message: the worker sends it if it was queued."""

    def __init__(self, delivery: Delivery, session: Session, to: str, deadline: float) -> None:
        self.delivery = delivery
        self.session: Session | None = session
        self.deadline = deadline
        self.message: dict | None = None
        self._opened = asyncio.ensure_future(self._bounded(delivery._open_data, session, to))

    async def _bounded(self, step, *args) -> None:
        async with asyncio.timeout_at(self.deadline):
            await step(*args)

    async def data(self, mime: bytes) -> bool:
        """True: everything but the final "." is with the server; False: the worker sends it."""
        if self.session is None:
            return False
        try:
            await self._opened
            if asyncio.get_running_loop().time() >= self.deadline:
                raise TimeoutError("the express lane's time is up")
            Delivery._body(self.session.client, mime)
        except BaseException as exc:
            self.close()
            if not isinstance(exc, Exception):
                raise
            log.info("email.express_declined", error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    def sending(self, message_id: UUID, **about) -> None:
        """The caller inserted the message 'sending' after ``data``: its "." follows the commit."""
        self.message = {"id": message_id, **about, "attempts": 0}

    def close(self) -> None:
        if not self._opened.done():
            self._opened.cancel()
        elif not self._opened.cancelled():
            self._opened.exception()  # retrieved: a failure here only means the worker sends it
        if self.session is not None:
            self.session.client.close()
            self.session = None

    async def settle(self, committed: bool) -> None:
        if not committed or self.message is None or self.session is None:
            self.close()
            return
        session, self.session = self.session, None
        await self.delivery._end_express(session, self.message)


def _retrieved(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()


def _reply(data: bytes) -> aiosmtplib.SMTPResponse | None:
    """A complete SMTP reply (one line, or several joined by ``-`` after the code) → its code and
    text; None while incomplete."""
    lines = data.split(b"\n")
    if len(lines) < 2:
        return None
    for i, line in enumerate(lines[:-1]):
        if line[3:4] != b"-":
            if i != len(lines) - 2 or lines[-1]:
                raise UncertainFailure(f"an unexpected answer to the end of the message: {data[:80]!r}")
            try:
                code = int(line[:3])
            except ValueError:
                raise UncertainFailure(f"a malformed answer to the end of the message: {data[:80]!r}") from None
            text = b"\n".join(x[4:].strip(b" \t\r") for x in lines[:-1]).decode("utf-8", "surrogateescape")
            return aiosmtplib.SMTPResponse(code, text)
    return None


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
