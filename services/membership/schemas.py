import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from shared.validation import Email, Name


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    site: str = Field(min_length=1, max_length=63)
    email: Email
    first_name: Name
    last_name: Name

    @field_validator("site")
    @classmethod
    def lower_site(cls, v: str) -> str:
        return v.lower()


class RegisterResponse(BaseModel):
    contact_id: UUID
    site: str
    email: str
    level: str
    message: str = "Registered. A welcome email with a link to set your password is on its way."


class ApiKeyCheck(BaseModel):
    key: str = Field(min_length=1, max_length=200)


class Membership(BaseModel):
    program: str
    level: str
    since: datetime
    until: datetime | None


class Me(BaseModel):
    contact_id: UUID
    email: str
    first_name: str
    last_name: str
    memberships: list[Membership]


# --- admin: contacts ---------------------------------------------------------------------------

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
Path_ = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=r"^/[^\s?#]*$")]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email
    first_name: Name
    last_name: Name
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    fields: dict[FieldName, Any] = Field(default_factory=dict)
    # Optional: grant this level at once (a manual grant); no grant otherwise.
    level_id: UUID | None = None
    start_sequences: list[Tag] = Field(default_factory=list, max_length=20)


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: Email | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    # Merged into the contact's fields; a null value removes that field.
    fields: dict[FieldName, Any] | None = None


class GrantOut(BaseModel):
    id: UUID
    level_id: UUID
    level: str
    program: str
    source: str
    starts_at: datetime
    ends_at: datetime | None
    ended_reason: str | None


class ContactOut(BaseModel):
    id: UUID
    email: str
    first_name: str
    last_name: str
    tags: list[str]
    fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    grants: list[GrantOut] | None = None


class ContactPage(BaseModel):
    items: list[ContactOut]
    total: int
    limit: int
    offset: int


class FieldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FieldName
    type: Literal["text", "number", "date", "choice"]
    choices: list[Tag] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def choices_for_choice(self):
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs choices")
        if self.type != "choice" and self.choices:
            raise ValueError("only a choice field has choices")
        return self


# --- admin: API keys -----------------------------------------------------------------------------


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    label: str = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: UUID
    label: str
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown in this answer only (only its hash is stored).")


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


# --- admin: programs, levels, pages, rules, grants ---------------------------------------------


class ProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name


class LevelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    program_id: UUID
    name: Name
    # Levels are ordered within their program (lowest first); by default after the last one.
    rank: int | None = Field(default=None, ge=0, le=1_000_000)


class PageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    path: Path_
    title: str = Field(default="", max_length=200)
    # Any of these levels opens the page.
    level_ids: list[UUID] = Field(min_length=1, max_length=100)


class PagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: str | None = Field(default=None, max_length=200)
    level_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=100)


class RuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The first successful payment of this product grants this level.
    product_id: UUID
    level_id: UUID


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level_id: UUID
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @model_validator(mode="after")
    def ends_after_start(self):
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class GrantRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    reason: str = Field(default="revoked by an admin", min_length=1, max_length=500)


# --- admin: site settings ----------------------------------------------------------------------


class RegistrationDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level_id: UUID | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=50)
    sequences: list[Tag] = Field(default_factory=list, max_length=20)


class CancellationFields(BaseModel):
    """The names of the contact's custom fields that record who cancelled, when and why."""

    model_config = ConfigDict(extra="forbid")
    who: FieldName | None = None
    when: FieldName | None = None
    reason: FieldName | None = None


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise ValueError("an origin looks like https://example.com (scheme, host, optional port)")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _redirect(value: str) -> str:
    if value != "customer_center" and not re.fullmatch(r"/[^\s?#]{0,499}", value):
        raise ValueError('expected "customer_center" or a page path such as /members')
    return value


Redirect = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_redirect)]
Origin = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), AfterValidator(_origin)]


Language = Literal["en", "fr"]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


def _logo(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError("an http(s) URL")
    return value


class Theme(BaseModel):
    """The Customer Center's colours and logo (the pages pick a readable text colour for the brand colour)."""

    model_config = ConfigDict(extra="forbid")
    primary_color: Colour | None = None
    logo_url: Annotated[str, StringConstraints(max_length=500), AfterValidator(_logo)] | None = None


class SitePublic(BaseModel):
    """What the gateway's pages need to know about a site; nothing secret."""

    id: UUID
    slug: str
    name: str
    language: str
    theme: dict[str, str]
    customer_center_enabled: bool
    post_login_redirect: str


class CheckoutContact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    first_name: Name
    last_name: Name


class SitePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_center_enabled: bool | None = None
    # "customer_center" or a page path.
    post_login_redirect: Redirect | None = None
    registration_open: bool | None = None
    registration_defaults: RegistrationDefaults | None = None
    embed_origins: list[Origin] | None = Field(default=None, max_length=50)
    cancellation_fields: CancellationFields | None = None
    language: Language | None = None
    theme: Theme | None = None


class SiteOut(BaseModel):
    id: UUID
    slug: str
    name: str
    registration_open: bool
    customer_center_enabled: bool
    post_login_redirect: str
    registration_defaults: RegistrationDefaults
    embed_origins: list[str]
    cancellation_fields: CancellationFields
    language: str = "en"
    theme: dict[str, str] = {}


# --- access ------------------------------------------------------------------------------------


class ReasonOut(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class LoginOut(BaseModel):
    state: Literal["known", "unknown"]
    has_login: bool | None = None
    password_set: bool | None = None
    username: str | None = None
    locked_until: datetime | None = None


class LevelHeld(BaseModel):
    grant_id: UUID
    level: str
    program: str
    source: str
    starts_at: datetime
    ends_at: datetime | None
    ended_reason: str | None
    active: bool


class AccessOut(BaseModel):
    allowed: bool
    page: str
    as_of: datetime
    reasons: list[ReasonOut]
    can_log_in: bool | None
    lands_on: str
    landing_reason: ReasonOut
    login: LoginOut
    levels: list[LevelHeld]
    page_levels: list[str] | None
