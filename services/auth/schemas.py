from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.auth.domain import MAX_PASSWORD, MIN_PASSWORD, MIN_USERNAME

# A new password: any characters; the policy (domain.check_password_policy) refuses it with 422
# `password_rejected` outside 8-256 characters or when common. The body itself takes up to 4096, so
# that a too long password gets the policy's message; the document states the policy's bounds.
NEW_PASSWORD = {"min_length": 1, "max_length": 4096,
                "json_schema_extra": {"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SetPasswordRequest(Body):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(**NEW_PASSWORD)


class SetPasswordResponse(BaseModel):
    status: str = "password_set"
    site: str
    username: str


class LoginRequest(Body):
    site: str = Field(min_length=1, max_length=63)
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=4096)


class LoginResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    redirect: str


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=10, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class LoggedOut(BaseModel):
    status: str = "logged_out"


class ChangeUsernameRequest(Body):
    new_username: str = Field(min_length=1, max_length=254, json_schema_extra={"minLength": MIN_USERNAME})
    current_password: str = Field(min_length=1, max_length=4096)


class UsernameResponse(BaseModel):
    status: str = "username_changed"
    username: str


class ChangePasswordRequest(Body):
    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(**NEW_PASSWORD)


class PasswordChangedResponse(BaseModel):
    status: str = "password_changed"
    other_sessions_revoked: int


class ForgotPasswordRequest(Body):
    site: str = Field(min_length=1, max_length=63)
    email: str = Field(min_length=3, max_length=254)


class Accepted(BaseModel):
    status: str = "accepted"


class CredentialsResent(BaseModel):
    status: str = "sent"
    login_id: UUID
    username: str
    expires_at: datetime


class LoginState(BaseModel):
    """What membership's access diagnostics show about a contact's login."""

    has_login: bool
    password_set: bool
    username: str | None
    locked_until: datetime | None


class RevokedSession(BaseModel):
    session_id: UUID
    revoked_at: datetime
    # Access tokens of the session may be presented until then; after it, forget the session.
    until: datetime


class RevokedSessions(BaseModel):
    as_of: datetime
    sessions: list[RevokedSession]


class StaffLoginRequest(Body):
    site_id: UUID
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=4096)


class StaffTokenRequest(Body):
    token: str = Field(min_length=10, max_length=200)


class StaffMember(BaseModel):
    id: UUID
    site_id: UUID
    email: str
    role: str


class StaffSession(BaseModel):
    token: str
    expires_at: datetime
    staff: StaffMember


class StaffOfSession(BaseModel):
    staff: StaffMember
    expires_at: datetime
