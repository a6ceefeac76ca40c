"""Billing's test helpers: events billing publishes (a queue of our own bound to them), cards
tokenised at the sandbox through the gateway, customers with orders."""

import json
import uuid
from datetime import datetime

import aio_pika
import pytest

from services.membership.seed import demo_id
from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.helpers import sign_up_and_log_in

ADMIN = {"X-Api-Key": ADMIN_KEY}
MONTHLY = str(demo_id("product:monthly"))  # $19.00 a month
PLAN = str(demo_id("product:plan"))  # 3 x $49.00
EBOOK = str(demo_id("product:ebook"))  # $15.00 once
VISA_OK = "4242424242424242"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
TRANSIENT = "4000000000000119"


class BillingEvents:
    def __init__(self) -> None:
        self.all: list[dict] = []

    def of(self, routing_key: str, **match) -> list[dict]:
        return [
            e for e in self.all
            if e["type"] == routing_key and all(e["payload"].get(k) == str(v) for k, v in match.items())
        ]

    async def wait(self, routing_key: str, count: int = 1, timeout: float = 15.0, **match) -> list[dict]:
        async def enough():
            found = self.of(routing_key, **match)
            return found if len(found) >= count else None

        return await eventually(enough, timeout=timeout, message=f"{count} {routing_key} event(s) {match}")


@pytest.fixture(scope="session", autouse=True)
async def billing_events(system, amqp_session, bus_prefix):
    """Every billing.* event of this run (and, until notify binds them, what makes them routable)."""
    channel = await amqp_session.channel()
    exchange = await channel.declare_exchange(f"{bus_prefix}cc.events", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="billing.#")
    events = BillingEvents()

    async def on_message(message):
        async with message.process():
            events.all.append(json.loads(message.body))

    await queue.consume(on_message)
    yield events
    await channel.close()


async def tokenise(gateway, number: str = VISA_OK, exp_year: int = 2099, exp_month: int = 12) -> dict:
    async with gateway.post(
        "/sandbox/v1/tokens", json={"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": "123"}
    ) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def customer(gateway, smtp, db) -> dict:
    """A logged-in contact of the demo site whom billing already knows (membership.contact.created)."""
    person = await sign_up_and_log_in(gateway, smtp)

    async def known():
        return await db.fetchval("SELECT true FROM billing.contacts WHERE id = $1", uuid.UUID(person["contact_id"]))

    await eventually(known, message="billing learned the contact")
    return person


async def place_order(gateway, contact_id: str, product_id: str, token: str, expect: int = 201) -> dict:
    async with gateway.post(
        "/admin/api/orders", json={"contact_id": contact_id, "product_id": product_id, "card_token": token}, headers=ADMIN
    ) as r:
        body = await r.json()
        assert r.status == expect, body
        return body


async def add_card(gateway, person: dict, number: str = VISA_OK, **extra) -> dict:
    token = await tokenise(gateway, number)
    async with gateway.post("/api/cards", json={"token": token["token"], **extra}, headers=person["auth"]) as r:
        assert r.status == 201, await r.text()
        return await r.json()


async def run_billing(gateway, as_of: datetime, contact_id: str | None = None) -> dict:
    body = {"as_of": as_of.isoformat()}
    if contact_id:
        body["contact_id"] = contact_id
    async with gateway.post("/admin/api/billing/run", json=body, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["run"]


async def get(gateway, path: str, headers: dict, expect: int = 200) -> dict:
    async with gateway.get(path, headers=headers) as r:
        body = await r.json()
        assert r.status == expect, body
        return body


async def patch_order(gateway, order_id: str, body: dict, expect: int = 200) -> dict:
    async with gateway.patch(f"/admin/api/orders/{order_id}", json=body, headers=ADMIN) as r:
        answer = await r.json()
        assert r.status == expect, answer
        return answer

