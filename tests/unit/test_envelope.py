import json
import uuid
from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, Envelope, UnknownEventType
from shared.events.membership import ContactCreated


def contact_created() -> ContactCreated:
    return ContactCreated(
        contact_id=uuid.uuid4(), site_id=uuid.uuid4(), site_slug="demo", email="a@example.org", first_name="A", last_name="B"
    )


def test_envelope_round_trips_through_json():
    event = contact_created()
    cause = uuid.uuid4()
    envelope = Envelope.wrap(event, producer="membership", correlation_id="corr-1", causation_id=cause)
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again.type == "membership.contact.created" and again.version == 1
    assert again.correlation_id == "corr-1" and again.causation_id == cause
    assert again.occurred_at.tzinfo is not None and again.occurred_at <= datetime.now(timezone.utc)
    assert again.open() == event


def test_unknown_event_type_is_refused():
    envelope = Envelope(type="nobody.heard.of", version=1, producer="x", correlation_id="c", payload={})
    with pytest.raises(UnknownEventType):
        envelope.open()


def test_payload_that_breaks_the_schema_is_refused():
    envelope = Envelope(type="membership.contact.created", version=1, producer="x", correlation_id="c", payload={"email": 1})
    with pytest.raises(ValidationError):
        envelope.open()


def test_wire_names_are_explicit_and_past_tense():
    assert ("auth.credentials.issued", 1) in EVENT_TYPES
    assert ("membership.granted", 1) in EVENT_TYPES
    for routing_key, _ in EVENT_TYPES:
        if routing_key.startswith("test."):  # the shared bus tests' own event types
            continue
        service, *_, verb = routing_key.split(".")
        assert service in {"auth", "billing", "membership", "notify"}
        assert verb.endswith("ed") or verb in {"sent", "held"}, routing_key


def test_envelopes_written_in_a_batch_are_the_envelopes_wrap_writes():
    """``envelopes_json`` (the billing run's batches) splices each event's JSON into its envelope's:
    what it writes must read back as the envelope ``Envelope.wrap`` makes, field for field."""
    from shared.events import envelopes_json
    from shared.events.billing import Money, PaymentSucceeded

    now = datetime.now(timezone.utc)
    paid = PaymentSucceeded(
        payment_id=uuid.uuid4(), order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), contact_id=uuid.uuid4(),
        site_id=uuid.uuid4(), product_id=uuid.uuid4(), product_name='Gold "monthly" \u00e9', kind="subscription",
        amount=Money(amount=1900, currency="USD"), card_brand="visa", card_last4="4242", period_start=now,
        period_end=None, sequence=2, paid_at=now,
    )
    events = [contact_created(), paid, contact_created()]
    cause = uuid.uuid4()
    rows = envelopes_json(events, producer="billing", correlation_id='run "1"', causation_id=cause)
    assert [r[1] for r in rows] == [e.routing_key for e in events]
    assert len({r[0] for r in rows}) == 3 and all(r[0].version == 4 for r in rows)
    for (event_id, _, text), event in zip(rows, events):
        written = Envelope.model_validate_json(text)
        wrapped = Envelope.wrap(event, producer="billing", correlation_id='run "1"', causation_id=cause)
        assert written.id == event_id
        assert written.model_dump(exclude={"id", "occurred_at"}) == wrapped.model_dump(exclude={"id", "occurred_at"})
        assert written.open() == event
        # the same fields in the same order as the envelope dumps them
        assert list(json.loads(text)) == list(json.loads(wrapped.model_dump_json()))
    assert envelopes_json([], producer="billing", correlation_id="c") == []
    assert json.loads(envelopes_json([paid], producer="billing", correlation_id="c")[0][2])["causation_id"] is None
