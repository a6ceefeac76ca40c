"""Outgoing webhooks: a site's events, signed, to its endpoints; retried until accepted; a delivery
log and replay through the admin API."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from aiohttp import web

from shared.events.billing import Money, PaymentSucceeded
from tests.conftest import eventually, free_port
from tests.e2e.notify.conftest import ADMIN, publish
from tests.factories import registration, unique_email


class Receiver:
    """A business's own HTTP endpoint: answers 500 ``failures`` times, then 200; keeps every request."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict, bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.read()))
        if len(self.requests) <= self.failures:
            return web.Response(status=500, text="not today")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def serving(recv: Receiver):
    """The receiver listening on a free port of its own (``recv.url``) while the block runs."""
    app = web.Application()
    app.router.add_post("/hooks", recv.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    recv.url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield recv
    finally:
        await runner.cleanup()


@pytest.fixture
async def receiver():
    async with serving(Receiver(failures=3)) as recv:
        yield recv


def verifies(secret: str, headers: dict, body: bytes) -> bool:
    """The receiver's check, written from the README: HMAC-SHA256(secret, "<timestamp>.<body>")."""
    timestamp = headers["X-CC-Webhook-Timestamp"]
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return abs(time.time() - int(timestamp)) < 300 and hmac.compare_digest(expected, headers["X-CC-Webhook-Signature"])


def payment(site_id, contact_id=None) -> PaymentSucceeded:
    now = datetime.now(timezone.utc)
    return PaymentSucceeded(
        payment_id=uuid.uuid4(), order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), contact_id=contact_id or uuid.uuid4(),
        site_id=site_id, product_id=uuid.uuid4(), product_name="Webhook Course", kind="one_time",
        amount=Money(amount=4900, currency="USD"), card_brand="Visa", card_last4="4242",
        period_start=now, period_end=None, sequence=1, paid_at=now,
    )


async def test_a_failing_endpoint_gets_the_event_once_more_per_retry_signed_and_replayable(
    gateway, demo_site, receiver, amqp, bus_prefix
):
    async with gateway.post(
        "/admin/api/webhooks", json={"url": receiver.url, "event_types": ["billing.payment.succeeded"]}, headers=ADMIN
    ) as r:
        assert r.status == 201, await r.text()
        endpoint = await r.json()
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    async with gateway.get("/admin/api/webhooks", headers=ADMIN) as r:
        listed = [w for w in (await r.json())["webhooks"] if w["id"] == endpoint["id"]]
    assert listed and "secret" not in listed[0]

    # Another site's payment and another type of event of this site never reach the endpoint.
    await publish(amqp, bus_prefix, payment(uuid.uuid4()), producer="billing")
    envelope = await publish(amqp, bus_prefix, payment(demo_site["id"]), producer="billing")

    await eventually(lambda: asyncio.sleep(0, len(receiver.requests) >= 4), timeout=20, message="four attempts")
    await asyncio.sleep(1.0)
    assert len(receiver.requests) == 4  # three failures, one accepted: once more per retry, then no more
    bodies = {body for _, body in receiver.requests}
    assert len(bodies) == 1
    headers, body = receiver.requests[-1]
    event = json.loads(body)
    assert event["id"] == str(envelope.id) and event["type"] == "billing.payment.succeeded"
    assert event["data"]["site_id"] == str(demo_site["id"]) and event["data"]["amount"] == {"amount": 4900, "currency": "USD"}
    assert headers["X-CC-Event-Id"] == str(envelope.id)
    assert all(verifies(secret, h, b) for h, b in receiver.requests)
    assert not verifies(secret, headers, body.replace(b"4900", b"4901"))
    assert not verifies("whsec_another", headers, body)

    async with gateway.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries", headers=ADMIN) as r:
        assert r.status == 200
        [delivery] = (await r.json())["deliveries"]
    assert delivery["event_id"] == str(envelope.id) and delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500, 204]

    async with gateway.post(
        f"/admin/api/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/replay", headers=ADMIN
    ) as r:
        assert r.status == 202
    await eventually(lambda: asyncio.sleep(0, len(receiver.requests) == 5), timeout=10, message="the replay")
    assert receiver.requests[-1][1] == body and verifies(secret, *receiver.requests[-1])

    async with gateway.delete(f"/admin/api/webhooks/{endpoint['id']}", headers=ADMIN) as r:
        assert r.status == 204


async def test_webhook_admin_api_refuses_unknown_event_types_and_other_sites_endpoints(gateway):
    async with gateway.post(
        "/admin/api/webhooks", json={"url": "http://127.0.0.1:9/x", "event_types": ["billing.nothing"]}, headers=ADMIN
    ) as r:
        assert r.status == 422
        assert "billing.nothing" in json.dumps((await r.json())["error"]["details"])
    async with gateway.get(f"/admin/api/webhooks/{uuid.uuid4()}/deliveries", headers=ADMIN) as r:
        assert r.status == 404


async def test_a_delivery_still_failing_after_a_day_stops_being_retried(gateway, demo_site, amqp, bus_prefix, db):
    recv = Receiver(failures=10**6)
    async with serving(recv):
        try:
            async with gateway.post(
                "/admin/api/webhooks", json={"url": recv.url, "event_types": ["billing.payment.succeeded"]}, headers=ADMIN
            ) as r:
                endpoint = await r.json()
            envelope = await publish(amqp, bus_prefix, payment(demo_site["id"]), producer="billing")
            await eventually(lambda: asyncio.sleep(0, len(recv.requests) >= 2), timeout=10, message="retries")
            # A day passes (the retry window is measured from the first attempt).
            await db.execute(
                "UPDATE notify.webhook_deliveries SET window_start = now() - interval '25 hours' WHERE event_id = $1", envelope.id
            )

            async def failed():
                async with gateway.get(f"/admin/api/webhooks/{endpoint['id']}/deliveries", headers=ADMIN) as r:
                    found = [d for d in (await r.json())["deliveries"] if d["event_id"] == str(envelope.id)]
                return found[0] if found and found[0]["status"] == "failed" else None

            delivery = await eventually(failed, timeout=15, message="the delivery to give up")
            count = len(recv.requests)
            await asyncio.sleep(1.5)
            assert len(recv.requests) == count and delivery["next_attempt_at"] is None
            assert all(a["status_code"] == 500 for a in delivery["attempts"])
        finally:
            async with gateway.delete(f"/admin/api/webhooks/{endpoint['id']}", headers=ADMIN):
                pass


async def test_an_endpoint_subscribed_after_start_gets_events_only_webhooks_consume_and_the_welcome_still_arrives(
    gateway, demo_site, smtp
):
    """Notify's webhooks queue binds an endpoint's types when it is created (notify was running long
    before): `notify.email.sent` reaches no other consumer, yet the endpoint gets it, and the
    registration's `membership.contact.created` too; the welcome email arrives as ever."""
    recv = Receiver(failures=0)
    types = ["membership.contact.created", "notify.email.sent"]
    async with serving(recv):
        try:
            async with gateway.post(
                "/admin/api/webhooks", json={"url": recv.url, "event_types": types}, headers=ADMIN
            ) as r:
                assert r.status == 201, await r.text()
                endpoint = await r.json()
            address = unique_email("hooked")
            async with gateway.post("/api/register", json=registration(address)) as r:
                assert r.status == 201, await r.text()
                contact_id = (await r.json())["contact_id"]
            await smtp.wait_for(address)

            def got() -> set[str]:
                events = [json.loads(body) for _, body in recv.requests]
                return {e["type"] for e in events if e["data"].get("contact_id") == contact_id}

            await eventually(lambda: asyncio.sleep(0, got() == set(types)), timeout=20, message="both events delivered")
        finally:
            async with gateway.delete(f"/admin/api/webhooks/{endpoint['id']}", headers=ADMIN):
                pass
