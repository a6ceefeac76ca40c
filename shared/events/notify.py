"""Events notify publishes."""

from uuid import UUID

from shared.events import Event


class EmailSent(Event):
    routing_key = "notify.email.sent"
    version = 1
    message_id: UUID
    site_id: UUID
    contact_id: UUID | None
    template: str


class EmailHeld(Event):
    routing_key = "notify.email.held"
    version = 1
    message_id: UUID
    site_id: UUID
    contact_id: UUID | None
    template: str
    reason: str
