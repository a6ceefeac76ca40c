"""Who is calling, as the gateway established it.

The gateway verifies the access token (customer API), the admin API key (admin API) or the staff
session (the admin console, acting through the admin API) and calls the services with these
headers; it never forwards a client's own ``X-CC-*`` headers. Services are not reachable from
outside (only the gateway takes outside traffic), so they trust them.
"""

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from aiohttp import web

from shared.errors import Unauthorized

CONTACT_ID = "X-CC-Contact-Id"
SITE_ID = "X-CC-Site-Id"
LOGIN_ID = "X-CC-Login-Id"
SESSION_ID = "X-CC-Session-Id"
ADMIN_SITE_ID = "X-CC-Admin-Site-Id"
ACTOR = "X-CC-Actor"  # who acts in an admin call: a staff member or an admin API key (for the audit log)


@dataclass(frozen=True)
class Contact:
    contact_id: UUID
    site_id: UUID
    login_id: UUID
    session_id: UUID

    def headers(self) -> dict[str, str]:
        return {
            CONTACT_ID: str(self.contact_id),
            SITE_ID: str(self.site_id),
            LOGIN_ID: str(self.login_id),
            SESSION_ID: str(self.session_id),
        }


@dataclass(frozen=True)
class Actor:
    """Who made an admin call: ``kind`` is ``staff`` (id, email, role) or ``api_key`` (id, label)."""

    kind: str
    id: str
    name: str
    role: str | None = None

    def header(self) -> str:
        return urlencode({k: v for k, v in (("kind", self.kind), ("id", self.id), ("name", self.name),
                                            ("role", self.role)) if v is not None})

    @classmethod
    def from_header(cls, value: str | None) -> "Actor":
        fields = dict(parse_qsl(value or ""))
        if not fields.get("kind") or not fields.get("id"):
            return UNKNOWN_ACTOR
        return cls(kind=fields["kind"][:20], id=fields["id"][:100], name=fields.get("name", "")[:320],
                   role=fields.get("role"))


UNKNOWN_ACTOR = Actor(kind="unknown", id="-", name="")


@dataclass(frozen=True)
class AdminSite:
    site_id: UUID
    actor: Actor = UNKNOWN_ACTOR

    def headers(self) -> dict[str, str]:
        return {ADMIN_SITE_ID: str(self.site_id), ACTOR: self.actor.header()}


def contact_of(request: web.Request) -> Contact:
    """The logged-in contact of a customer API call; 401 when the gateway established none."""
    try:
        return Contact(
            contact_id=UUID(request.headers[CONTACT_ID]),
            site_id=UUID(request.headers[SITE_ID]),
            login_id=UUID(request.headers[LOGIN_ID]),
            session_id=UUID(request.headers[SESSION_ID]),
        )
    except (KeyError, ValueError):
        raise Unauthorized() from None


def admin_site_of(request: web.Request) -> AdminSite:
    """The site an admin API call acts on; 401 when the gateway established none."""
    try:
        return AdminSite(site_id=UUID(request.headers[ADMIN_SITE_ID]), actor=Actor.from_header(request.headers.get(ACTOR)))
    except (KeyError, ValueError):
        raise Unauthorized("An admin API key is required (X-Api-Key).") from None
