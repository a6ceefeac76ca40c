"""Making real dead letters on the test system's broker (shared by the API, CLI and browser tests)."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import aio_pika

from services.membership.seed import DEMO_SITE_ID


def contact_created(site_id=DEMO_SITE_ID, age: timedelta = timedelta(0), **payload) -> dict:
    return {
        "id": str(uuid.uuid4()), "type": "membership.contact.created", "version": 1,
        "occurred_at": (datetime.now(timezone.utc) - age).isoformat(), "producer": "test", "correlation_id": "dead-letter-test",
        "payload": {"contact_id": str(uuid.uuid4()), "site_id": str(site_id), "site_slug": "demo",
                    "email": f"dl-{uuid.uuid4().hex[:8]}@example.org", "first_name": "Dee", "last_name": "Letter",
                    **payload},
    }


async def publish_poison(amqp, bus_prefix: str, site_id=DEMO_SITE_ID) -> dict:
    """An event every consumer of it rejects (its contact_id is not an id): the broker dead-letters it."""
    envelope = contact_created(site_id, contact_id="not-a-uuid")
    channel = await amqp.channel(publisher_confirms=True)
    events = await channel.get_exchange(f"{bus_prefix}cc.events")
    await events.publish(_message(envelope), routing_key=envelope["type"], mandatory=True)
    await channel.close()
    return envelope


async def park_in_billing_dead_letters(amqp, bus_prefix: str, site_id=DEMO_SITE_ID, age: timedelta = timedelta(0)) -> dict:
    """A good event in billing's dead-letter queue with the ``x-death`` the broker writes when a
    handler kept failing past the delivery limit (e.g. while a dependency was down; the real thing
    takes six failed deliveries with backoff): replaying it must now apply it, in billing alone.
    ``age``: how long ago it occurred and was parked."""
    envelope = contact_created(site_id, age=age)
    channel = await amqp.channel(publisher_confirms=True)
    dead = await channel.get_exchange(f"{bus_prefix}cc.dead")
    message = _message(envelope)
    message.headers = {"x-death": [{
        "count": 1, "reason": "delivery_limit", "queue": f"{bus_prefix}billing.events",
        "time": (datetime.now(timezone.utc) - age).replace(microsecond=0), "exchange": f"{bus_prefix}cc.events",
        "routing-keys": [envelope["type"]],
    }]}
    await dead.publish(message, routing_key=f"{bus_prefix}billing.events.dead", mandatory=True)
    await channel.close()
    return envelope


def _message(envelope: dict) -> aio_pika.Message:
    return aio_pika.Message(json.dumps(envelope).encode(), message_id=envelope["id"], type=envelope["type"],
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, correlation_id="dead-letter-test")
