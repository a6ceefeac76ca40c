"""The window a kill of notify turns into a second copy of an email: from writing the DATA's final "."
to writing the statement that records the server's 250 (docs/reliability.md). Nothing else of the
process runs inside it, and every outcome of the "." is still recorded (sent, retried, held), also
when the server answers later than notify waits for it on the socket."""

import asyncio
import contextlib
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from aiosmtpd.controller import Controller

import services.notify
from services.notify import repository as repo
from services.notify.delivery import Delivery, UncertainFailure, _reply
from services.notify.email import build_mime
from services.notify.settings import NotifySettings
from shared.db import migrate
from tests.integration.notify.test_smtp_sessions import free_port

SCHEMA = "notify_window"  # notify's tables of this test's own: the suite's running notify never claims these


class Server:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.answers: dict[str, str] = {}
        self.delay = 0.0  # before answering the end of DATA
        self.rcpt_delay = 0.0  # before answering RCPT
        self.refused: set[str] = set()
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        if address in self.refused:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.get(envelope.rcpt_tos[0], "250 Message accepted")
        if answer.startswith("250"):
            self.received.append(envelope.rcpt_tos[0])
        return answer


@pytest.fixture
def server():
    server = Server()
    server.controller.start()
    yield server
    server.controller.stop()


@contextlib.asynccontextmanager
async def notify_tables(database_url: str, schema: str):
    """A pool on notify's tables in ``schema`` of their own (migrated, emptied)."""
    await migrate(database_url, schema, Path(services.notify.__file__).parent)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=10, server_settings={"search_path": schema})
    async with pool.acquire() as conn:
        await conn.execute("TRUNCATE messages, outgoing, outbox")
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def pool(database_url):
    async with notify_tables(database_url, SCHEMA) as pool:
        yield pool


async def queue(pool, to: str) -> uuid.UUID:
    message_id = uuid.uuid4()
    mime = build_mime(message_id=message_id, sender="no-reply@example.org", to=to, subject="Hi", text="Hi\n", html="<p>Hi</p>\n")
    async with pool.acquire() as conn:
        await repo.insert_message(conn, message_id=message_id, event_id=uuid.uuid4(), template="welcome", site_id=None,
                                  contact_id=None, correlation_id="window-test", to_address=to, subject="Hi",
                                  status="queued", mime=mime)
    return message_id


async def deliver_all(database_url, server, pool, **settings) -> None:
    delivery = Delivery(NotifySettings(service=SCHEMA, database_url=database_url, smtp_host="127.0.0.1",
                                       smtp_port=server.controller.port, **settings), pool)
    try:
        while await delivery.work_once():
            pass
    finally:
        await delivery.smtp.close()
        await delivery.recorder.close()


async def records(pool) -> dict[str, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT to_address, status, attempts, uncertain_resends, reason, end_of_data_at, window_us FROM messages")
    return {r["to_address"]: r for r in rows}


@pytest.mark.parametrize("wait", [0.05, 0.0])
async def test_nothing_else_runs_between_the_end_of_data_and_the_record_of_its_answer(database_url, server, pool, wait):
    """``wait`` 0 answers through the event loop (as before): then other tasks run inside the window,
    which is what the answer read on the socket takes out."""
    addresses = [f"w{i}@example.org" for i in range(30)]
    for to in addresses:
        await queue(pool, to)
    ticks: list[float] = []

    async def other_work():  # what else notify does meanwhile: its consumer, the relay, HTTP
        while True:
            ticks.append(time.time())
            await asyncio.sleep(0)

    busy = asyncio.create_task(other_work())
    try:
        await deliver_all(database_url, server, pool, smtp_answer_wait_seconds=wait)
    finally:
        busy.cancel()
    found = await records(pool)
    assert sorted(server.received) == sorted(addresses)
    assert {r["status"] for r in found.values()} == {"sent"}
    windows = [(r["end_of_data_at"].timestamp(), r["end_of_data_at"].timestamp() + r["window_us"] / 1e6) for r in found.values()]
    assert len(ticks) > 100  # the other task did run, between the windows
    inside = [t for t in ticks for start, end in windows if start < t < end]
    if wait:
        assert inside == [], f"{len(inside)} steps of another task ran inside a window"
    else:
        assert len(inside) > len(addresses)


async def test_a_server_slower_than_the_wait_still_gets_each_message_once_and_recorded(database_url, server, pool):
    server.delay = 0.05
    for to in ("slow1@example.org", "slow2@example.org"):
        await queue(pool, to)
    await deliver_all(database_url, server, pool, smtp_answer_wait_seconds=0.005)
    found = await records(pool)
    assert sorted(server.received) == ["slow1@example.org", "slow2@example.org"]
    assert all(r["status"] == "sent" and r["uncertain_resends"] == 0 for r in found.values())
    assert all(r["window_us"] >= 50_000 for r in found.values())  # answered through the event loop


@pytest.mark.parametrize("wait", [0.01, 0.0])
async def test_a_refusal_of_the_end_of_data_is_certain_a_4xx_retried_and_a_5xx_held(database_url, server, pool, wait):
    server.answers = {"later@example.org": "451 4.3.0 try again", "never@example.org": "554 5.6.0 rejected"}
    for to in ("later@example.org", "never@example.org"):
        await queue(pool, to)
    await deliver_all(database_url, server, pool, smtp_answer_wait_seconds=wait)
    found = await records(pool)
    assert server.received == []
    later, never = found["later@example.org"], found["never@example.org"]
    assert (later["status"], later["uncertain_resends"]) == ("queued", 0) and "451" in later["reason"]
    assert never["status"] == "held" and "554" in never["reason"]


def test_an_answer_is_read_whole_before_it_counts():
    assert _reply(b"250 2.0.0 Ok: queued") is None
    assert _reply(b"250-first\r\n") is None
    assert _reply(b"250 2.0.0 Ok: queued\r\n") == (250, "2.0.0 Ok: queued")
    assert _reply(b"250-first\r\n250 second\r\n") == (250, "first\nsecond")
    assert _reply(b"451 later\r\n").code == 451
    with pytest.raises(UncertainFailure):
        _reply(b"250 ok\r\n250 more\r\n")  # two answers to one "."
    with pytest.raises(UncertainFailure):
        _reply(b"hello\r\n")



async def test_a_batch_of_due_messages_is_claimed_and_marked_sending_together_and_a_refusal_stays_its_own(
    database_url, server, pool
):
    """Eight due messages: the first alone (a wake-up for one email claims one), then the seven others
    in one claim and one 'sending' update for the six the server did not refuse at RCPT; the refused
    one is held, the others sent once each."""
    addresses = [f"b{i}@example.org" for i in range(8)]
    for to in addresses:
        await queue(pool, to)
    server.refused = {"b3@example.org"}
    statements: list[str] = []

    async def note_statements(conn) -> None:
        conn.add_query_logger(lambda record: statements.append(record.query))

    counted = await asyncpg.create_pool(database_url, min_size=1, max_size=10, init=note_statements,
                                        server_settings={"search_path": SCHEMA})
    try:
        await deliver_all(database_url, server, counted, delivery_concurrency=8)
    finally:
        await counted.close()
    found = await records(pool)
    assert sorted(server.received) == sorted(set(addresses) - server.refused)
    assert found["b3@example.org"]["status"] == "held" and "550" in found["b3@example.org"]["reason"]
    assert {r["status"] for to, r in found.items() if to != "b3@example.org"} == {"sent"}
    claims = [q for q in statements if "FOR UPDATE OF m SKIP LOCKED" in q]
    sending = [q for q in statements if "SET status = 'sending'" in q]
    assert (len(claims), len(sending)) == (2, 2), statements
