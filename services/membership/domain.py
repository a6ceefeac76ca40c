"""Membership's rules and errors. Pure: no I/O."""

from dataclasses import dataclass
from uuid import UUID

from shared.errors import Conflict, Forbidden, NotFound, ServiceError


class MembershipError(ServiceError):
    pass


class SiteNotFound(NotFound):
    code = "site_not_found"
    message = "No site by that name."


class RegistrationClosed(Forbidden):
    code = "registration_closed"
    message = "This site does not accept registrations."


class EmailTaken(Conflict):
    code = "email_taken"
    message = "This email address is already registered on this site. Use 'forgot password' to get in."


class NoDefaultLevel(MembershipError):
    status = 409
    code = "no_default_level"
    message = "This site has no level for new registrations yet."


@dataclass(frozen=True)
class Site:
    id: UUID
    slug: str
    name: str
    registration_open: bool
    default_level_id: UUID | None


@dataclass(frozen=True)
class Level:
    id: UUID
    name: str
    program_name: str


def check_can_register(site: Site) -> UUID:
    """The level a new registration gets, or why registration is refused."""
    if not site.registration_open:
        raise RegistrationClosed()
    if site.default_level_id is None:
        raise NoDefaultLevel()
    return site.default_level_id
