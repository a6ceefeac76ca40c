"""Notify keeps SMTP sessions open between messages, and replaces one the server dropped without
failing (or delaying) the message that found it dead."""

import socket
import uuid

import pytest
from aiosmtpd.controller import Controller

from services.notify.delivery import Delivery
from services.notify.email import build_mime
from services.notify.settings import NotifySettings


class Server:
    """An aiosmtpd server that notes which connection (peer port) each message came over."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, int]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.rcpt_tos[0], session.peer[1]))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    server = Server(free_port())
    server.controller.start()
    yield server
    server.controller.stop()


def delivery_to(server: Server) -> Delivery:
    return Delivery(NotifySettings(smtp_host="127.0.0.1", smtp_port=server.port, smtp_noop_after_seconds=60), pool=None)


async def send(delivery: Delivery, to: str) -> None:
    mime = build_mime(message_id=uuid.uuid4(), sender="no-reply@example.org", to=to, subject="Hi", text="Hi\n", html="<p>Hi</p>\n")
    session = await delivery.send_all_but_the_end(to, mime)
    await delivery.end_data(session.client)
    await delivery.smtp.give_back(session)  # as _deliver_one does once 'sent' is committed


async def test_messages_in_a_row_share_one_smtp_session(server):
    delivery = delivery_to(server)
    try:
        for i in range(5):
            await send(delivery, f"p{i}@example.org")
    finally:
        await delivery.smtp.close()
    assert [to for to, _ in server.received] == [f"p{i}@example.org" for i in range(5)]
    assert len({peer for _, peer in server.received}) == 1


async def test_a_session_the_server_dropped_is_replaced_and_the_message_still_goes(server):
    delivery = delivery_to(server)
    try:
        await send(delivery, "before@example.org")
        server.controller.stop()  # the server goes away (a restart, an idle timeout) ...
        server.controller = Controller(server, hostname="127.0.0.1", port=server.port)
        server.controller.start()  # ... and is back: the kept session is dead
        await send(delivery, "after@example.org")
    finally:
        await delivery.smtp.close()
    assert [to for to, _ in server.received] == ["before@example.org", "after@example.org"]
    assert server.received[0][1] != server.received[1][1]
