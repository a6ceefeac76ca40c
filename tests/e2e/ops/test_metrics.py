"""Prometheus metrics on every service: counters move when events flow."""

import json
import uuid

import aio_pika
import aiohttp

from services.system import SERVICES
from tests.conftest import eventually
from tests.e2e.ops.scrape import scrape, value
from tests.factories import registration, unique_email

GRANTED = "membership.granted"
CREDENTIALS = "auth.credentials.issued"


async def test_every_service_serves_prometheus_metrics_with_http_latency(system):
    for name in SERVICES:
        url = system.processes[name].url
        async with aiohttp.ClientSession() as s, s.get(f"{url}/healthz") as r:
            assert r.status == 200
        samples = await scrape(url)
        # The /healthz request above is timed under its route pattern.
        assert value(samples, "cc_http_request_duration_seconds_count", route="/healthz", status="200") >= 1, name
        if name != "gateway":
            assert ("cc_outbox_pending", frozenset()) in samples, name
            assert ("cc_outbox_lag_seconds", frozenset()) in samples, name


async def test_event_counters_move_when_a_registration_flows_through(system, gateway, smtp):
    urls = {name: system.processes[name].url for name in ("gateway", "membership", "auth", "notify")}
    before = {name: await scrape(url) for name, url in urls.items()}

    address = unique_email("metrics")
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201
    await smtp.wait_for(address)

    async def moved():
        after = {name: await scrape(url) for name, url in urls.items()}
        deltas = {
            "published by membership": _delta(before, after, "membership", "cc_events_published_total", event_type=GRANTED),
            "consumed by auth": _delta(before, after, "auth", "cc_events_consumed_total", event_type=GRANTED, outcome="processed"),
            "published by auth": _delta(before, after, "auth", "cc_events_published_total", event_type=CREDENTIALS),
            "consumed by notify": _delta(before, after, "notify", "cc_events_consumed_total", event_type=CREDENTIALS, outcome="processed"),
            "email sent by notify": _delta(before, after, "notify", "cc_emails_sent_total"),
            "timed by the gateway": _delta(
                before, after, "gateway", "cc_http_request_duration_seconds_count", route="/api/register", method="POST"
            ),
        }
        return deltas if all(d >= 1 for d in deltas.values()) else None

    # Other tests run at the same time against the same system: at least one, not exactly one.
    await eventually(moved, timeout=10, message="every counter on the registration's path to move")


async def test_a_poison_message_counts_as_dead_lettered(system, amqp, bus_prefix):
    url = system.processes["auth"].url
    before = await scrape(url)
    channel = await amqp.channel()
    exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
    body = json.dumps({"id": str(uuid.uuid4()), "type": GRANTED, "payload": "not an envelope"}).encode()
    await exchange.publish(aio_pika.Message(body, message_id=str(uuid.uuid4())), routing_key=GRANTED)
    await channel.close()

    async def counted():
        after = await scrape(url)
        return value(after, "cc_events_dead_lettered_total", event_type=GRANTED, reason="poison") > value(
            before, "cc_events_dead_lettered_total", event_type=GRANTED, reason="poison"
        )

    await eventually(counted, timeout=10, message="auth to count the poison message as dead-lettered")


def _delta(before, after, service, name, **labels) -> float:
    return value(after[service], name, **labels) - value(before[service], name, **labels)


async def test_charges_are_counted_by_result(system, gateway, smtp, db):
    from services.membership.seed import demo_id
    from tests.e2e.billing.conftest import customer, place_order, tokenise

    billing = system.processes["billing"].url
    before = await scrape(billing)
    person = await customer(gateway, smtp, db)
    monthly = str(demo_id("product:monthly"))
    await place_order(gateway, person["contact_id"], monthly, (await tokenise(gateway))["token"])
    await place_order(gateway, person["contact_id"], monthly, (await tokenise(gateway, "4000000000000002"))["token"], expect=402)
    after = await scrape(billing)
    for result in ("succeeded", "declined"):
        grew = value(after, "cc_billing_charges_total", result=result) - value(before, "cc_billing_charges_total", result=result)
        assert grew >= 1, result


async def test_a_welcome_email_after_another_goes_by_the_express_lane(system, gateway, smtp):
    """An email queued while notify holds an idle SMTP session (the one the email before it used) is
    begun in the event's transaction and sent at its commit: counted under ``lane="express"``."""
    url = system.processes["notify"].url
    before = {"notify": await scrape(url)}
    for _ in range(5):  # other tests send at the same time and may hold the idle sessions a moment
        for _ in range(2):
            address = unique_email("express")
            async with gateway.post("/api/register", json=registration(address)) as r:
                assert r.status == 201
            await smtp.wait_for(address)
        if _delta(before, {"notify": await scrape(url)}, "notify", "cc_emails_sent_total", lane="express") >= 1:
            return
    raise AssertionError("no welcome email was sent by the express lane")
