"""Auth's rules and errors. Pure: no I/O."""

import hashlib
import secrets
from datetime import datetime

from shared.errors import ServiceError, Unauthorized

MIN_PASSWORD = 8
MAX_PASSWORD = 256


class AuthError(ServiceError):
    pass


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "The username or password is incorrect."


class TokenInvalid(AuthError):
    status = 400
    code = "token_invalid"
    message = "This link is invalid, has expired or was already used. Ask for a new one."


class PasswordRejected(AuthError):
    status = 422
    code = "password_rejected"


def new_token() -> str:
    """A single-use secret for a link: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """What is stored instead of a token. SHA-256 suffices: the token has 256 bits of entropy."""
    return hashlib.sha256(token.encode()).digest()


def check_password_policy(password: str) -> None:
    """NIST SP 800-63B: length, any characters; the common-password list comes with the auth issue."""
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(
            f"The password must have at least {MIN_PASSWORD} characters.",
            details={"fields": {"new_password": f"at least {MIN_PASSWORD} characters"}},
        )
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(
            f"The password must have at most {MAX_PASSWORD} characters.",
            details={"fields": {"new_password": f"at most {MAX_PASSWORD} characters"}},
        )


def username_candidates(email: str):
    """The email first; if another login on the site took it, the email with a number: ann+2@x.org."""
    yield email
    local, _, domain = email.partition("@")
    for n in range(2, 1000):
        yield f"{local}+{n}@{domain}"


def token_usable(*, expires_at: datetime, used_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    return used_at is None and revoked_at is None and expires_at > now
