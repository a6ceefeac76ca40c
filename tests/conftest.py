"""The test system: a fresh database and a unique bus prefix per run, a real SMTP server (aiosmtpd),
and the five services started as real processes. Nothing is faked: PostgreSQL and RabbitMQ are the
machine's own (see the README for how `make test` makes sure they run).
"""

import asyncio
import contextlib
import email
import email.policy
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiohttp
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from services.cli import migrate_all, seed_demo
from services.ops.staff import create_staff
from services.system import SERVICES, System
from shared.sealing import LinkKeys, link_context, new_key_entry

BASE_DATABASE_URL = os.environ.get("CC_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/customer_center")
AMQP_URL = os.environ.get("CC_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ADMIN_KEY = "cc_test_admin_key_" + uuid.uuid4().hex
LINK_KEYS = new_key_entry("test")  # the run's CC_LINK_KEYS: auth seals links in events with it, notify opens them
LINKS = LinkKeys.parse(LINK_KEYS)


def seal_link(event_type, login_id, url: str) -> str:
    """A link sealed as auth seals it for an event of ``event_type`` about ``login_id``."""
    return LINKS.seal(url, context=link_context(event_type.routing_key, login_id))


def open_link(event_type, payload: dict, field: str) -> str:
    """The link an event (its payload, as recorded off the bus) carries sealed, opened as notify does."""
    return LINKS.open(payload[field], context=link_context(event_type.routing_key, payload["login_id"]))
WELCOME_SUBJECT = "set your password"  # in every site's default welcome subject


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(check, timeout: float = 15.0, interval: float = 0.05, message: str = "condition"):
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


@pytest.fixture(scope="session")
def run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
async def database_url(run_id):
    """A database of its own for this run, migrated and seeded; dropped afterwards."""
    parts = urlsplit(BASE_DATABASE_URL)
    url = urlunsplit(parts._replace(path=f"/cc_test_{run_id}"))
    await migrate_all(url)
    await seed_demo(url, ADMIN_KEY)
    yield url
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "cc_test_{run_id}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def bus_prefix(run_id):
    """Exchanges and queues of this run carry a unique prefix; deleted afterwards."""
    prefix = f"test.{run_id}."
    yield prefix
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        for service in SERVICES:
            for queue in (f"{prefix}{service}.events", f"{prefix}{service}.events.dead"):
                await channel.queue_delete(queue)
        # notify's webhooks queue and the sink it declares (services/notify/webhooks/bindings.py)
        for queue in (f"{prefix}notify.webhooks", f"{prefix}cc.unrouted"):
            await channel.queue_delete(queue)
        await channel.queue_delete(f"{prefix}recorded")
        for exchange in (f"{prefix}cc.events", f"{prefix}cc.dead"):
            await channel.exchange_delete(exchange)
    finally:
        await connection.close()


@dataclass
class Mailbox:
    """What a real SMTP server (aiosmtpd) received."""

    messages: list[EmailMessage] = field(default_factory=list)
    # Scripted answers per recipient, used in order before the server accepts: {"a@x.org": ["451 later"]}
    replies: dict[str, list[str]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        for address in envelope.rcpt_tos:
            if self.replies.get(address):
                reply = self.replies[address].pop(0)
                self.refused.append((address, reply))
                return reply
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg.envelope_to = list(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 Message accepted"

    def to(self, address: str, subject: str | None = None) -> list[EmailMessage]:
        """Emails to ``address``; with ``subject``, only those whose subject contains it."""
        return [
            m for m in self.messages if address in m.envelope_to and (subject is None or subject in m["Subject"])
        ]

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 20.0, subject: str | None = None
    ) -> list[EmailMessage]:
        async def arrived():
            found = self.to(address, subject)
            return found if len(found) >= count else None

        return await eventually(arrived, timeout=timeout, message=f"{count} email(s) to {address} ({subject or 'any'})")

    async def welcome(self, address: str, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """The welcome emails (the ones with the set-password link) to ``address``."""
        return await self.wait_for(address, count, timeout, subject=WELCOME_SUBJECT)


@contextlib.contextmanager
def smtp_server():
    """An aiosmtpd server on a free port, its messages in the yielded ``Mailbox``."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def smtp():
    with smtp_server() as mailbox:
        yield mailbox


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
async def recorded_events(bus_prefix) -> str:
    """A queue of the run's own that every event on the run's exchange also goes to, from before the
    services start: the secrets scan (tests/e2e/security) reads every message the suite produced."""
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(f"{bus_prefix}cc.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(f"{bus_prefix}recorded", durable=True)
        await queue.bind(exchange, routing_key="#")
    finally:
        await connection.close()
    return queue.name


@pytest.fixture(scope="session")
def system(database_url, bus_prefix, smtp, log_dir, recorded_events):
    """All five services as real processes, on free ports, with this run's database and bus prefix."""
    ports = {name: free_port() for name in SERVICES}
    env = {
        "CC_DATABASE_URL": database_url,
        "CC_AMQP_URL": AMQP_URL,
        "CC_BUS_PREFIX": bus_prefix,
        "CC_SMTP_HOST": "127.0.0.1",
        "CC_SMTP_PORT": str(smtp.port),
        "CC_LOG_FORMAT": "json",
        "CC_DELIVERY_BACKOFF_SECONDS": "0.2",
        "CC_OUTBOX_POLL_SECONDS": "0.5",
        "CC_LINK_KEYS": LINK_KEYS,
        # Every consuming service prunes its inbox this often (rows older than 31 days: only the
        # retention test's; tests/e2e/ops/test_inbox_retention.py).
        "CC_INBOX_PRUNE_INTERVAL_SECONDS": "2",
    }
    system = System(env=env, ports=ports, log_dir=log_dir)
    system.start_all()
    try:
        system.wait_ready(timeout=60)
        yield system
    finally:
        system.stop_all()


@pytest.fixture(scope="session")
async def gateway(system):
    async with aiohttp.ClientSession(base_url=system.processes["gateway"].url) as session:
        yield session


@pytest.fixture
async def visitor(system):
    """A gateway client from a loopback address of its own (127.x.y.z), as another person's machine:
    its failed logins count against its address, not against the address every other test uses."""
    octets = uuid.uuid4().bytes[:3]
    host = "127." + ".".join(str(1 + b % 254) for b in octets)
    connector = aiohttp.TCPConnector(local_addr=(host, 0))
    async with aiohttp.ClientSession(base_url=system.processes["gateway"].url, connector=connector) as session:
        session.address = host
        yield session


@pytest.fixture(scope="session")
async def db(database_url):
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def amqp():
    """A broker connection of the test's own: a channel one test leaves in trouble (the broker closes
    the whole connection for some channel errors) cannot take later tests down with it."""
    connection = await aio_pika.connect(AMQP_URL)
    yield connection
    await connection.close()


@pytest.fixture(scope="session")
async def amqp_session():
    """A broker connection for session-long fixtures (a listener kept for the whole run)."""
    connection = await aio_pika.connect_robust(AMQP_URL)
    yield connection
    await connection.close()


# --- the admin console's staff (tests/e2e/admin, tests/browser) ------------------------------------


@dataclass(frozen=True)
class StaffAccount:
    email: str
    password: str
    role: str
    site: str = "demo"


async def _staff(database_url: str, role: str) -> StaffAccount:
    account = StaffAccount(email=f"{role}-{uuid.uuid4().hex[:10]}@staff.example.org",
                           password=f"staff {role} {uuid.uuid4().hex[:12]}", role=role)
    await create_staff(database_url, site_slug=account.site, email=account.email, role=role, password=account.password)
    return account


@pytest.fixture(scope="session")
async def staff_owner(database_url) -> StaffAccount:
    """An owner of the demo site (may change everything)."""
    return await _staff(database_url, "owner")


@pytest.fixture(scope="session")
async def staff_support(database_url) -> StaffAccount:
    """A support member of the demo site (cannot change site settings, products or API keys)."""
    return await _staff(database_url, "support")


async def console_login(client: aiohttp.ClientSession, account: StaffAccount, *, password: str | None = None,
                        expect: int = 303) -> aiohttp.ClientResponse:
    """Log ``client`` in to the admin console as a browser would (the form and its CSRF token)."""
    import re
    from html import unescape

    async with client.get(f"/admin/login?site={account.site}", allow_redirects=False) as r:
        html = await r.text()
        assert r.status == 200, html[:500]
    csrf = unescape(re.search(r'name="csrf_token" value="([^"]+)"', html).group(1))
    form = {"csrf_token": csrf, "site": account.site, "email": account.email,
            "password": account.password if password is None else password}
    async with client.post("/admin/login", data=form, allow_redirects=False) as r:
        await r.read()
        assert r.status == expect, (r.status, (await r.text())[:500])
        return r


def _console_session(system) -> aiohttp.ClientSession:
    """A browser-like client of the console: keeps cookies (for 127.0.0.1 too), does not follow
    redirects unless asked, from a loopback address of its own (its failed logins are its own)."""
    octets = uuid.uuid4().bytes[:3]
    host = "127." + ".".join(str(1 + b % 254) for b in octets)
    connector = aiohttp.TCPConnector(local_addr=(host, 0))
    session = aiohttp.ClientSession(base_url=system.processes["gateway"].url, connector=connector,
                                    cookie_jar=aiohttp.CookieJar(unsafe=True))
    session.address = host
    return session


@pytest.fixture
async def console_client(system):
    """A console client not logged in yet."""
    async with _console_session(system) as session:
        yield session


@pytest.fixture
async def owner_console(system, staff_owner):
    """A client logged in to the console as the demo site's owner."""
    async with _console_session(system) as session:
        await console_login(session, staff_owner)
        yield session


@pytest.fixture
async def support_console(system, staff_support):
    """A client logged in to the console as a support member of the demo site."""
    async with _console_session(system) as session:
        await console_login(session, staff_support)
        yield session
