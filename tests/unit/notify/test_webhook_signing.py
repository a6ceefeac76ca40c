import hashlib
import hmac
import json

from services.notify.webhooks.body import webhook_body
from services.notify.webhooks.signing import new_secret, signature, verify
from shared.events import Envelope


def test_a_signature_verifies_and_any_change_breaks_it():
    secret, body = new_secret(), b'{"id":"1"}'
    header = signature(secret, 1_700_000_000, body)
    assert header == "v1=" + hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert verify(secret, "1700000000", body, header, now=1_700_000_010)
    assert not verify(secret, "1700000000", body + b" ", header, now=1_700_000_010)
    assert not verify(secret, "1700000001", body, header, now=1_700_000_010)
    assert not verify(new_secret(), "1700000000", body, header, now=1_700_000_010)
    assert not verify(secret, "1700000000", body, header, now=1_700_001_000)  # too old: a replay


def test_single_use_links_never_leave_in_a_webhook():
    envelope = Envelope(
        type="auth.credentials.issued", version=1, producer="auth", correlation_id="c",
        payload={"site_id": "s", "username": "ann", "set_password_url": "http://x/?token=secret"},
    )
    body = json.loads(webhook_body(envelope))
    assert body["data"] == {"site_id": "s", "username": "ann"} and body["type"] == "auth.credentials.issued"
