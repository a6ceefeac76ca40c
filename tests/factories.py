"""Unique test data, so tests never collide with each other or with earlier runs."""

import uuid


def unique_email(prefix: str = "contact") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


def registration(email: str | None = None, **overrides) -> dict:
    body = {"site": "demo", "email": email or unique_email(), "first_name": "Ann", "last_name": "Lee"}
    body.update(overrides)
    return body
