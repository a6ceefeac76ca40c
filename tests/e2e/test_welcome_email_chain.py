"""Registration → membership.granted → auth.credentials.issued → welcome email, through the real
gateway, RabbitMQ, PostgreSQL and an SMTP server, with every service in its own process."""

import asyncio
import re
import json
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import aio_pika
import aiohttp
import jwt
import pytest

from shared.events import Envelope
from shared.events.auth import CredentialsIssued
from tests.conftest import eventually, seal_link
from tests.e2e.helpers import welcome_fields
from tests.factories import registration, unique_email


async def test_registration_sends_a_welcome_email_whose_link_sets_the_password_once(gateway, smtp):
    body = registration(first_name="Ann", last_name="Lee")
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201, await r.text()
        contact = await r.json()
    assert contact["email"] == body["email"] and contact["level"] == "Free"

    [msg] = await smtp.wait_for(body["email"])
    fields = welcome_fields(msg)
    assert msg["To"] == body["email"]
    assert "Demo Academy" in msg["Subject"]
    assert fields["username"] == body["email"]
    assert "Hello Ann" in fields["text"] and "Free" in fields["text"]

    # Opening the link (as a mail scanner would) shows a form and consumes nothing.
    async with gateway.get(urlsplit(fields["link"]).path + "?" + urlsplit(fields["link"]).query) as r:
        assert r.status == 200
        page = await r.text()
    assert 'name="new_password"' in page and fields["token"] in page

    password = "a long enough passphrase " + uuid.uuid4().hex[:6]
    async with gateway.post("/api/password/set", json={"token": fields["token"], "new_password": password}) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["username"] == body["email"]

    async with gateway.post("/api/login", json={"site": "demo", "username": body["email"].upper(), "password": password}) as r:
        assert r.status == 200, await r.text()
        tokens = await r.json()
    assert tokens["refresh_token"] and tokens["expires_in"] > 0 and tokens["redirect"] == "/center"
    async with gateway.get("/.well-known/jwks.json") as r:
        jwks = await r.json()
    header = jwt.get_unverified_header(tokens["access_token"])
    [jwk] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(
        tokens["access_token"], jwt.PyJWK(jwk).key, algorithms=["EdDSA"], audience="customer-center"
    )
    assert claims["sub"] == contact["contact_id"]

    # The link is single-use.
    async with gateway.post("/api/password/set", json={"token": fields["token"], "new_password": "another password 123"}) as r:
        assert r.status == 400
        assert (await r.json())["error"]["code"] == "token_invalid"
    async with gateway.post("/api/login", json={"site": "demo", "username": body["email"], "password": "another password 123"}) as r:
        assert r.status == 401


async def test_the_set_password_page_form_sets_the_password(gateway, smtp, system):
    body = registration()
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201
    fields = welcome_fields((await smtp.wait_for(body["email"]))[0])
    jar = aiohttp.CookieJar(unsafe=True)  # a browser's cookies (the form's CSRF token)
    async with aiohttp.ClientSession(base_url=system.processes["gateway"].url, cookie_jar=jar) as browser:
        async with browser.get(f"/password/set?token={fields['token']}") as r:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', await r.text()).group(1)
        form = {"csrf_token": csrf, "token": fields["token"], "new_password": "form password 1", "confirm_password": "form password 1"}
        async with browser.post("/password/set", data=form) as r:
            assert r.status == 200
            assert "Password set" in await r.text()
        async with browser.post("/password/set", data=form) as r:
            assert r.status == 400
            assert "no longer valid" in await r.text()
    async with gateway.post("/api/login", json={"site": "demo", "username": body["email"], "password": "form password 1"}) as r:
        assert r.status == 200


async def publish_credentials_issued(amqp, bus_prefix: str, envelope: Envelope) -> None:
    channel = await amqp.channel()
    exchange = await channel.get_exchange(f"{bus_prefix}cc.events")
    await exchange.publish(
        aio_pika.Message(envelope.model_dump_json().encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
        routing_key=envelope.type,
    )
    await channel.close()


def credentials_issued(email: str, username: str) -> Envelope:
    login_id = uuid.uuid4()
    event = CredentialsIssued(
        login_id=login_id,
        contact_id=uuid.uuid4(),
        site_id=uuid.uuid4(),
        site_slug="demo",
        site_name="Demo Academy",
        program_name="Members",
        level_name="Free",
        email=email,
        first_name="Bo",
        username=username,
        set_password_link=seal_link(CredentialsIssued, login_id, "http://127.0.0.1:8080/password/set?token=test-token-not-secret"),
        expires_at=datetime.now(timezone.utc) + timedelta(days=3),
    )
    return Envelope.wrap(event, producer="test", correlation_id="test-" + uuid.uuid4().hex)


async def test_a_blank_username_is_held_with_the_field_named_and_never_sent(system, amqp, bus_prefix, smtp, db):
    address = unique_email("blank")
    envelope = credentials_issued(address, username="  ")
    await publish_credentials_issued(amqp, bus_prefix, envelope)

    async def held():
        return await db.fetchrow(
            "SELECT status, reason, subject FROM notify.messages WHERE event_id = $1", envelope.id
        )

    row = await eventually(held, message="the held message")
    assert row["status"] == "held"
    assert "username" in row["reason"]
    assert await db.fetchval("SELECT count(*) FROM notify.outgoing o JOIN notify.messages m ON m.id = o.message_id WHERE m.event_id = $1", envelope.id) == 0
    await asyncio.sleep(1.0)
    assert smtp.to(address) == []


async def test_the_same_event_delivered_twice_sends_one_email(system, amqp, bus_prefix, smtp, db):
    address = unique_email("twice")
    envelope = credentials_issued(address, username=address)
    await publish_credentials_issued(amqp, bus_prefix, envelope)
    await publish_credentials_issued(amqp, bus_prefix, envelope)
    await smtp.wait_for(address)

    async def both_consumed():
        # The second copy is recorded nowhere but the inbox it bounced off; give it time to arrive.
        return await db.fetchval("SELECT count(*) FROM notify.inbox WHERE event_id = $1", envelope.id)

    await eventually(both_consumed)
    await asyncio.sleep(1.5)
    assert len(smtp.to(address)) == 1
    assert await db.fetchval("SELECT count(*) FROM notify.messages WHERE event_id = $1", envelope.id) == 1


async def test_welcome_emails_wait_while_notify_is_down_and_all_arrive_after(system, gateway, smtp, db):
    import signal

    system.stop("notify", signal.SIGKILL)
    emails = [unique_email("while-down") for _ in range(5)]
    try:
        for address in emails:
            async with gateway.post("/api/register", json=registration(address)) as r:
                assert r.status == 201
        # Credentials were issued meanwhile: the events wait in notify's durable queue.
        async def issued():
            return await db.fetchval(
                "SELECT count(*) FROM auth.logins WHERE email = ANY($1::text[])", emails
            ) == len(emails)

        await eventually(issued, message="credentials issued while notify is down")
        assert all(smtp.to(a) == [] for a in emails)
    finally:
        system.start("notify")
        system.wait_ready(["notify"])
    for address in emails:
        [msg] = await smtp.wait_for(address)
        assert welcome_fields(msg)["username"] == address


async def test_correlation_id_follows_the_request_to_the_email(system, gateway, smtp, log_dir):
    correlation_id = "trace-" + uuid.uuid4().hex
    body = registration()
    async with gateway.post("/api/register", json=body, headers={"X-Correlation-Id": correlation_id}) as r:
        assert r.status == 201
        assert r.headers["X-Correlation-Id"] == correlation_id
    await smtp.wait_for(body["email"])

    async def logged_everywhere():
        seen = set()
        for service in ("membership", "auth", "notify"):
            for line in (log_dir / f"{service}.log").read_text().splitlines():
                if correlation_id in line:
                    record = json.loads(line)
                    assert record["correlation_id"] == correlation_id
                    seen.add((service, record["event"]))
        return {("membership", "contact.registered"), ("auth", "credentials.issued"), ("notify", "email.sent")} <= seen

    await eventually(logged_everywhere, timeout=5, message="the correlation id in every service's log")
