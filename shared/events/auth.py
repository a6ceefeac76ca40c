"""Events auth publishes."""

from datetime import datetime
from uuid import UUID

from shared.events import Event


class _CredentialsIssuedFields(Event):
    """The fields versions 1 and 2 of ``auth.credentials.issued`` share, in their wire order."""

    login_id: UUID
    contact_id: UUID
    site_id: UUID
    site_slug: str
    site_name: str
    program_name: str
    level_name: str
    email: str
    first_name: str
    username: str


class CredentialsIssued(_CredentialsIssuedFields):
    """A login exists and its owner must set a password: every merge field of the welcome email.

    String fields are not constrained here on purpose: notify's strict rendering is the last line
    of defence and must be able to *hold* a message with a blank field rather than lose it. Also
    published by an admin's "resend credentials" (``resent=True``): a fresh link, the old ones dead.

    ``set_password_link`` is the link sealed (``shared/sealing.py``, associated data
    ``link_context(routing_key, login_id)``): only notify opens it, when it renders the email.
    """

    routing_key = "auth.credentials.issued"
    version = 2
    set_password_link: str
    expires_at: datetime
    resent: bool = False


class CredentialsIssuedV1(_CredentialsIssuedFields):
    """Version 1 carried the link in plain text. Auth no longer publishes it; notify still reads one
    left in a queue or a dead-letter queue by the auth it replaced (docs/events.md, "Upgrading to v2")."""

    routing_key = "auth.credentials.issued"
    version = 1
    set_password_url: str
    expires_at: datetime
    resent: bool = False


class _PasswordResetRequestedFields(Event):
    """The fields versions 1 and 2 of ``auth.password_reset.requested`` share, in their wire order."""

    login_id: UUID
    contact_id: UUID
    site_id: UUID
    site_name: str
    email: str
    first_name: str
    username: str


class PasswordResetRequested(_PasswordResetRequestedFields):
    """``reset_link`` is sealed as ``CredentialsIssued.set_password_link`` is."""

    routing_key = "auth.password_reset.requested"
    version = 2
    reset_link: str
    expires_at: datetime


class PasswordResetRequestedV1(_PasswordResetRequestedFields):
    """Version 1, with the link in plain text: read by notify during an upgrade, never published."""

    routing_key = "auth.password_reset.requested"
    version = 1
    reset_url: str
    expires_at: datetime


class UsernameChanged(Event):
    routing_key = "auth.username.changed"
    version = 1
    login_id: UUID
    contact_id: UUID
    site_id: UUID
    site_name: str
    email: str
    first_name: str
    old_username: str
    new_username: str
    changed_at: datetime


class PasswordChanged(Event):
    """So an account takeover is noticed: notify tells the owner."""

    routing_key = "auth.password.changed"
    version = 1
    login_id: UUID
    contact_id: UUID
    site_id: UUID
    site_name: str
    email: str
    first_name: str
    changed_at: datetime
