from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
