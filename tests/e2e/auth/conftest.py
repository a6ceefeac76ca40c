import hashlib
import json

import aiohttp
import pytest

from tests.conftest import eventually


class Listener:
    """An exclusive queue bound to auth's events on the run's exchange: what auth really published."""

    def __init__(self) -> None:
        self.received: list[dict] = []

    def of(self, routing_key: str, **payload) -> list[dict]:
        return [
            e["payload"] for e in self.received
            if e["type"] == routing_key and all(e["payload"].get(k) == v for k, v in payload.items())
        ]

    async def wait_for(self, routing_key: str, **payload) -> dict:
        async def arrived():
            return self.of(routing_key, **payload)

        return (await eventually(arrived, timeout=10, message=f"{routing_key} {payload}"))[-1]


@pytest.fixture
async def auth_events(amqp, bus_prefix, system):
    listener = Listener()
    channel = await amqp.channel()
    exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="auth.#")

    async def on_message(message):
        async with message.process():
            listener.received.append(json.loads(message.body))

    await queue.consume(on_message)
    yield listener
    await channel.close()


@pytest.fixture(scope="session")
async def auth_direct(system):
    """Auth's own HTTP API, as only the gateway and the other services reach it."""
    async with aiohttp.ClientSession(base_url=system.processes["auth"].url) as session:
        yield session


@pytest.fixture(scope="session")
async def demo_site_id(db) -> str:
    return str(await db.fetchval("SELECT id FROM membership.sites WHERE slug = 'demo'"))


def sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def login(gateway, site: str, username: str, password: str) -> tuple[int, dict]:
    async with gateway.post("/api/login", json={"site": site, "username": username, "password": password}) as r:
        return r.status, await r.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}
