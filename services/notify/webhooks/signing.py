"""Signing webhook deliveries: HMAC-SHA256 over "<timestamp>.<raw body>" with the endpoint's secret.

Headers of every delivery:
    X-CC-Webhook-Timestamp: 1767225600            (Unix seconds when it was sent)
    X-CC-Webhook-Signature: v1=<hex HMAC-SHA256(secret, b"1767225600." + body)>
A receiver recomputes the MAC over the raw bytes it received and compares in constant time, and
refuses a timestamp too far from its clock (replays). ``verify`` below is that check.
"""

import hashlib
import hmac
import secrets
import time

TIMESTAMP_HEADER = "X-CC-Webhook-Timestamp"
SIGNATURE_HEADER = "X-CC-Webhook-Signature"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(secret: str, timestamp: str, body: bytes, header: str, *, tolerance: int = 300, now: float | None = None) -> bool:
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent_at) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, sent_at, body), header or "")
