"""Membership's e2e fixtures: a fresh site of its own per test (so site settings never leak between
tests), its admin API, billing events published to the real broker, and a queue that listens."""

import asyncio
import json
import uuid
from dataclasses import dataclass, field

import aio_pika
import asyncpg
import pytest

from services.membership.seed import seed_site
from shared.events import Envelope, Event
from tests.conftest import eventually
from tests.e2e.helpers import welcome_fields


@dataclass
class Admin:
    """The admin API of one site, through the real gateway."""

    gateway: object
    key: str
    site_id: str
    slug: str

    async def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        async with self.gateway.request(method, path, json=body, headers={"X-Api-Key": self.key}) as r:
            return r.status, await r.json()

    async def ok(self, method: str, path: str, body=None, status: int | None = None) -> dict:
        got, payload = await self.call(method, path, body)
        expected = status or (201 if method == "POST" else 200)
        assert got == expected, (got, payload)
        return payload

    async def level(self, program_id: str, name: str) -> str:
        return (await self.ok("POST", "/admin/api/levels", {"program_id": program_id, "name": name}))["id"]

    async def contact(self, **overrides) -> dict:
        body = {"email": f"m-{uuid.uuid4().hex[:12]}@example.org", "first_name": "Mia", "last_name": "Ode", **overrides}
        return await self.ok("POST", "/admin/api/contacts", body)

    async def access(self, contact_id: str, **query) -> dict:
        params = "&".join(f"{k}={v}" for k, v in query.items())
        return await self.ok("GET", f"/admin/api/contacts/{contact_id}/access" + (f"?{params}" if params else ""))


@pytest.fixture
async def new_site(gateway, database_url):
    """Makes a fresh empty site with its own admin key; returns its Admin."""

    async def make() -> Admin:
        slug = "m-" + uuid.uuid4().hex[:10]
        key = "cc_test_key_" + uuid.uuid4().hex
        conn = await asyncpg.connect(database_url, server_settings={"search_path": "membership"})
        try:
            site_id = await seed_site(conn, slug=slug, name=f"Academy {slug}", admin_key=key)
        finally:
            await conn.close()
        return Admin(gateway=gateway, key=key, site_id=str(site_id), slug=slug)

    return make


async def publish(amqp, bus_prefix: str, event: Event | Envelope, producer: str = "billing") -> Envelope:
    """A real event on the real exchange, as its producer would publish it; returns the envelope (to redeliver)."""
    envelope = event if isinstance(event, Envelope) else Envelope.wrap(
        event, producer=producer, correlation_id="test-" + uuid.uuid4().hex
    )
    channel = await amqp.channel()
    try:
        exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
        await exchange.publish(
            aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=envelope.type,
        )
    finally:
        await channel.close()
    return envelope


@dataclass
class Listener:
    envelopes: list[dict] = field(default_factory=list)

    def of(self, routing_key: str, **payload) -> list[dict]:
        return [
            e for e in self.envelopes
            if e["type"] == routing_key and all(str(e["payload"].get(k)) == str(v) for k, v in payload.items())
        ]


@pytest.fixture
async def events(amqp, bus_prefix, system):
    """Every event of the run from now on, through an exclusive queue bound to the exchange."""
    channel = await amqp.channel()
    exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
    queue = await channel.declare_queue(exclusive=True)
    for key in ("membership.#", "auth.#"):
        await queue.bind(exchange, routing_key=key)
    listener = Listener()

    async def on_message(message):
        async with message.process():
            listener.envelopes.append(json.loads(message.body))

    await queue.consume(on_message)
    yield listener
    await channel.close()


async def set_password_from_welcome(gateway, smtp, email: str, slug: str) -> str:
    """Follow the welcome email's link, as the contact would; returns the password."""
    fields = welcome_fields((await smtp.welcome(email))[0])
    password = "pass " + fields["token"][:12]
    async with gateway.post("/api/password/set", json={"token": fields["token"], "new_password": password}) as r:
        assert r.status == 200, await r.text()
    return password


async def wait_for_grants(admin: Admin, contact_id: str, count: int) -> list[dict]:
    async def granted():
        grants = (await admin.ok("GET", f"/admin/api/contacts/{contact_id}"))["grants"]
        return grants if len(grants) >= count else None

    return await eventually(granted, message=f"{count} grant(s)")


async def quiet(seconds: float = 1.0) -> None:
    """Give a wrongly-sent message time to show up before asserting it did not."""
    await asyncio.sleep(seconds)
