"""Notify's test helpers: real events published to the run's exchange, contacts and sites notify
learned from them, the demo site's admin API."""

import uuid
from datetime import datetime, timedelta, timezone

import aio_pika
import pytest

from shared.events import Envelope, Event
from shared.events.auth import CredentialsIssued
from shared.events.membership import ContactCreated
from tests.conftest import ADMIN_KEY, eventually, seal_link
from tests.factories import registration, unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}


async def publish(amqp, bus_prefix: str, event: Event, producer: str = "test") -> Envelope:
    """A real event on the run's exchange, as its producer's outbox relay would publish it."""
    envelope = Envelope.wrap(event, producer=producer, correlation_id="test-" + uuid.uuid4().hex)
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


def credentials_issued(contact: dict, site: dict, *, link: str | None = None, **overrides) -> CredentialsIssued:
    """As auth publishes it: the set-password link (default: a fresh one) sealed with the run's keys."""
    login_id = overrides.pop("login_id", None) or uuid.uuid4()
    link = link or f"http://127.0.0.1:8080/password/set?token=tok-{uuid.uuid4().hex}"
    fields = dict(
        login_id=login_id,
        contact_id=contact["contact_id"],
        site_id=site["id"],
        site_slug=site["slug"],
        site_name=site["name"],
        program_name="Members",
        level_name="Gold",
        email=contact["email"],
        first_name=contact["first_name"],
        username=contact["email"],
        set_password_link=seal_link(CredentialsIssued, login_id, link),
        expires_at=datetime(2031, 1, 2, 3, 4, tzinfo=timezone.utc),
    )
    fields.update(overrides)
    return CredentialsIssued(**fields)


async def known_contact(amqp, bus_prefix, db, site: dict, *, start_sequences: list[str] = (), first_name: str = "Cleo") -> dict:
    """A contact membership announced (``membership.contact.created``), once notify stored it."""
    contact = {
        "contact_id": uuid.uuid4(),
        "email": unique_email("notify"),
        "first_name": first_name,
        "last_name": "Moss",
    }
    await publish(
        amqp,
        bus_prefix,
        ContactCreated(
            contact_id=contact["contact_id"],
            site_id=site["id"],
            site_slug=site["slug"],
            email=contact["email"],
            first_name=contact["first_name"],
            last_name=contact["last_name"],
            start_sequences=list(start_sequences),
        ),
        producer="membership",
    )
    await eventually(
        lambda: db.fetchval("SELECT 1 FROM notify.contacts WHERE id = $1", contact["contact_id"]),
        message="notify to store the contact",
    )
    return contact


@pytest.fixture(scope="session")
async def school(system, amqp_session, bus_prefix, db):
    """A site notify learned the name of from an event (no admin key: for emails only)."""
    site = {"id": uuid.uuid4(), "slug": "school-" + uuid.uuid4().hex[:6], "name": "Notify Test School"}
    first = await known_contact(amqp_session, bus_prefix, db, site)
    await publish(amqp_session, bus_prefix, credentials_issued(first, site), producer="auth")
    await eventually(
        lambda: db.fetchval("SELECT name = $2 FROM notify.sites WHERE id = $1", site["id"], site["name"]),
        message="notify to learn the site's name",
    )
    return site


@pytest.fixture(scope="session")
async def demo_site(gateway, smtp):
    """The demo site, after one real registration (so notify learned its name from the events)."""
    async with gateway.get("/admin/api/site", headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
    address = unique_email("demo")
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201, await r.text()
    await smtp.wait_for(address)
    return {"id": uuid.UUID(body["id"]), "slug": body["slug"], "name": body["name"]}


def days(n: float) -> timedelta:
    return timedelta(days=n)
