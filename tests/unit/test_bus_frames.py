"""The outbox relay's hand-made content frames are pamqp's, byte for byte, and the broker reads them."""

import uuid

import pamqp.frame
import pytest
from pamqp import commands as spec
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from shared.bus import content_frames


def pamqps(channel: int, max_content_size: int, body: bytes, routing_key: str, message_id: str, correlation_id: str) -> bytes:
    """What aio-pika's publish writes for the same message: pamqp's header, aiormq's split of the body."""
    properties = spec.Basic.Properties(
        content_type="application/json", headers={}, delivery_mode=2, priority=0,
        correlation_id=correlation_id, message_id=message_id, message_type=routing_key,
    )
    frames = [pamqp.frame.marshal(ContentHeader(0, len(body), properties), channel)]
    frames += [
        pamqp.frame.marshal(ContentBody(body[i:i + max_content_size]), channel)
        for i in range(0, len(body), max_content_size)
    ]
    return b"".join(frames)


@pytest.mark.parametrize(
    "body, correlation_id",
    [
        (b'{"type":"membership.contact.created"}', "corr-1"),
        (b'{"a":1}', ""),  # no correlation id: pamqp leaves the property (and its flag) out
        (b"", "c"),  # no body frame at all
        ('{"name":"Zoë Ōkubo"}'.encode(), "requête-ü"),  # lengths in bytes, not characters
        (b"x" * 131_064, "c"),  # exactly one frame's worth
        (b"y" * 300_001, "c"),  # split over three body frames
    ],
)
def test_content_frames_are_what_pamqp_marshals(body, correlation_id):
    for channel in (1, 7, 65535):
        args = (channel, 131_064, body, "billing.payment.succeeded", str(uuid.uuid4()), correlation_id)
        assert content_frames(*args) == pamqps(*args)


def test_a_property_longer_than_amqp_allows_is_refused_as_pamqp_refuses_it():
    with pytest.raises(TypeError):
        content_frames(1, 131_064, b"{}", "k", "m", "c" * 256)
    with pytest.raises(TypeError):
        pamqps(1, 131_064, b"{}", "k", "m", "c" * 256)
