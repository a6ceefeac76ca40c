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
