"""Events membership publishes."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from shared.events import Event


class ContactCreated(Event):
    routing_key = "membership.contact.created"
    version = 1
    contact_id: UUID
    site_id: UUID
    site_slug: str
    email: str
    first_name: str
    last_name: str
    # The site's registration defaults: the email sequences notify starts for this contact.
    start_sequences: list[str] = []


class Granted(Event):
    """A contact was granted a level. Carries what auth needs to issue credentials."""

    routing_key = "membership.granted"
    version = 1
    grant_id: UUID
    contact_id: UUID
    site_id: UUID
    site_slug: str
    site_name: str
    program_name: str
    level_id: UUID
    level_name: str
    email: str
    first_name: str
    last_name: str
    source: Literal["registration", "rule", "manual"]
    starts_at: datetime
    ends_at: datetime | None = None


class Revoked(Event):
    """A grant ended (revoked by an admin, a suspended order, a cancelled subscription's period over)."""

    routing_key = "membership.revoked"
    version = 1
    grant_id: UUID
    contact_id: UUID
    site_id: UUID
    level_id: UUID
    level_name: str
    reason: str
    ended_at: datetime
