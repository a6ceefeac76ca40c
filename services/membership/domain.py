"""Membership's rules and errors. Pure: no I/O (the access reasoning lives in ``access.py``)."""

import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from shared.errors import Conflict, Forbidden, InvalidRequest, NotFound, ServiceError

CUSTOMER_CENTER = "customer_center"
CENTER_PATH = "/center"
FIELD_TYPES = ("text", "number", "date", "choice")
# Which custom field records which fact of a cancellation, and the type it is created with.
CANCELLATION_FACTS = {"who": "choice", "when": "date", "reason": "text"}
CANCELLED_BY = ["contact", "admin", "system"]


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


class NameTaken(Conflict):
    code = "name_taken"
    message = "That name is already used on this site."


class UnknownLevel(InvalidRequest):
    code = "unknown_level"
    message = "No such level on this site."


class RedirectPageLacksAccess(InvalidRequest):
    code = "redirect_page_lacks_access"


class GrantAlreadyEnded(Conflict):
    code = "grant_already_ended"
    message = "This grant has already ended."


@dataclass(frozen=True)
class Site:
    id: UUID
    slug: str
    name: str
    registration_open: bool
    default_level_id: UUID | None
    customer_center_enabled: bool = True
    post_login_redirect: str = CUSTOMER_CENTER
    registration_tags: list[str] = field(default_factory=list)
    registration_sequences: list[str] = field(default_factory=list)
    embed_origins: list[str] = field(default_factory=list)
    cancellation_fields: dict[str, str] = field(default_factory=dict)
    language: str = "en"
    theme: dict[str, str] = field(default_factory=dict)

    @property
    def redirect_path(self) -> str:
        """The path the site sends people to after login, as configured."""
        return CENTER_PATH if self.post_login_redirect == CUSTOMER_CENTER else self.post_login_redirect


@dataclass(frozen=True)
class Level:
    id: UUID
    name: str
    program_name: str


@dataclass(frozen=True)
class FieldDefinition:
    name: str
    type: str
    choices: list[str] = field(default_factory=list)


def check_can_register(site: Site) -> UUID:
    """The level a new registration gets, or why registration is refused."""
    if not site.registration_open:
        raise RegistrationClosed()
    if site.default_level_id is None:
        raise NoDefaultLevel()
    return site.default_level_id


def field_value(definition: FieldDefinition, value: Any) -> Any:
    """A custom field's value checked against its type (None clears it); ValueError says why not."""
    if value is None:
        return None
    if definition.type == "text":
        if not isinstance(value, str) or len(value) > 2000:
            raise ValueError("expected text of at most 2000 characters")
        return value
    if definition.type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError("expected a number")
        return value
    if definition.type == "date":
        return _iso_date(value)
    if definition.type == "choice":
        if value not in definition.choices:
            raise ValueError(f"expected one of {', '.join(definition.choices)}")
        return value
    raise ValueError(f"unknown field type {definition.type}")


def _iso_date(value: Any) -> str:
    """An ISO 8601 date ('2026-01-31') or date-time (kept, in UTC)."""
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date")
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("expected an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def check_fields(definitions: dict[str, FieldDefinition], values: dict[str, Any]) -> dict[str, Any]:
    """Every value checked; one 422 naming each bad or unknown field."""
    checked, errors = {}, {}
    for name, value in values.items():
        definition = definitions.get(name)
        if definition is None:
            errors[f"fields.{name}"] = "no such custom field on this site"
            continue
        try:
            checked[name] = field_value(definition, value)
        except ValueError as exc:
            errors[f"fields.{name}"] = str(exc)
    if errors:
        raise InvalidRequest("Some custom fields are not valid.", details={"fields": errors})
    return checked


def levels_lacking_access(site_levels: list[Level], page_level_ids: set[UUID] | None) -> list[Level]:
    """The levels (every level can log in) that could not open a page; none for an unprotected page."""
    if not page_level_ids:
        return []
    return [level for level in site_levels if level.id not in page_level_ids]


def check_redirect(site_levels: list[Level], path: str, page_level_ids: set[UUID] | None) -> None:
    """Refuse a post-login page that a level able to log in could not open."""
    lacking = levels_lacking_access(site_levels, page_level_ids)
    if lacking:
        names = ", ".join(f"{level.program_name} / {level.name}" for level in lacking)
        raise RedirectPageLacksAccess(
            f"Members with these levels could not open {path} after logging in: {names}."
            " Give the page these levels, or choose another page.",
            details={
                "fields": {"post_login_redirect": "some levels that can log in cannot open this page"},
                "levels_lacking_access": [
                    {"level_id": str(level.id), "level": level.name, "program": level.program_name} for level in lacking
                ],
            },
        )


def new_key() -> str:
    """A new admin API key (shown once; only ``key_hash`` of it is stored)."""
    return "cc_admin_" + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
