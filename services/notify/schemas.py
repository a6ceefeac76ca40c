"""Request bodies of notify's admin API."""

from datetime import datetime
from email.utils import parseaddr
from typing import Annotated
from urllib.parse import urlsplit
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from shared.events import EVENT_TYPES

TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


def _mailbox(value: str | None) -> str | None:
    """'Name <a@b.org>' or 'a@b.org'; None or blank clears it."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    _, address = parseaddr(value)
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return value


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


def _event_types(values: list[str]) -> list[str]:
    known = {key for key, _ in EVENT_TYPES} | {"*"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown event type(s): {', '.join(unknown)}")
    return sorted(set(values))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateBody(Strict):
    subject: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1, max_length=100_000)
    html: str = Field(min_length=1, max_length=200_000)


class PreviewBody(Strict):
    """A draft (any part left out is the template's current one) and the contact to render it for
    (a made-up sample contact when none is given)."""

    contact_id: UUID | None = None
    subject: str | None = Field(None, min_length=1, max_length=500)
    text: str | None = Field(None, min_length=1, max_length=100_000)
    html: str | None = Field(None, min_length=1, max_length=200_000)


class EmailSettingsBody(Strict):
    mail_from: Annotated[str | None, AfterValidator(_mailbox)] = Field(None, max_length=320)
    reply_to: Annotated[str | None, AfterValidator(_mailbox)] = Field(None, max_length=320)


class StepBody(Strict):
    template: TemplateName
    delay_seconds: int = Field(ge=0, le=10 * 366 * 86400)


class SequenceBody(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"^\S(.*\S)?$")
    steps: list[StepBody] = Field(min_length=1, max_length=100)


class EnrolmentBody(Strict):
    contact_id: UUID


class RunBody(Strict):
    as_of: datetime | None = None


class WebhookBody(Strict):
    url: Annotated[str, AfterValidator(_url)] = Field(max_length=2000)
    event_types: Annotated[list[str], AfterValidator(_event_types)] = Field(min_length=1, max_length=100)


class WebhookPatch(Strict):
    url: Annotated[str | None, AfterValidator(lambda v: v if v is None else _url(v))] = Field(None, max_length=2000)
    event_types: Annotated[list[str] | None, AfterValidator(lambda v: v if v is None else _event_types(v))] = None
    active: bool | None = None
