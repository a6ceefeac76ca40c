"""Membership's event handlers. The map is the subscription list (billing's events come later)."""

HANDLERS: dict = {}
