"""Auth's rules and errors. Pure: no I/O (the common-password list is package data, read once)."""

import hashlib
import secrets
from datetime import datetime
from functools import cache
from pathlib import Path

from shared.errors import Conflict, Forbidden, ServiceError, Unauthorized

MIN_PASSWORD = 8
MAX_PASSWORD = 256
MIN_USERNAME = 3
MAX_USERNAME = 254
COMMON_PASSWORDS = Path(__file__).parent / "common_passwords.txt"


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


class RefreshTokenInvalid(Unauthorized):
    code = "refresh_token_invalid"
    message = "This session has ended. Log in again."


class CurrentPasswordIncorrect(Forbidden):
    code = "current_password_incorrect"
    message = "The current password is incorrect."

    def __init__(self) -> None:
        super().__init__(details={"fields": {"current_password": "incorrect"}})


class UsernameTaken(Conflict):
    code = "username_taken"
    message = "This username is already taken on this site. Choose another one."


class UsernameRejected(AuthError):
    status = 422
    code = "username_rejected"


class Throttled(AuthError):
    """Too many failed attempts: the answer is 429 with ``Retry-After``."""

    status = 429
    code = "too_many_attempts"
    message = "Too many failed attempts. Try again later."

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(details={"retry_after": self.retry_after})


def new_token() -> str:
    """A single-use secret for a link or a refresh token: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """What is stored instead of a token. SHA-256 suffices: the token has 256 bits of entropy."""
    return hashlib.sha256(token.encode()).digest()


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (zxcvbn's list, see the file's header), lowercase."""
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_password_policy(password: str, *, context: tuple[str, ...] = ()) -> None:
    """NIST SP 800-63B: 8 to 256 characters, any characters, no composition rules; refused when it
    is a common password or the account's own username or email (``context``)."""
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
    folded = password.strip().lower()
    if folded in common_passwords():
        raise PasswordRejected(
            "This password is one of the most commonly used ones. Choose another.",
            details={"fields": {"new_password": "too common"}},
        )
    if any(folded == c.strip().lower() for c in context if c):
        raise PasswordRejected(
            "The password must not be your username or email address.",
            details={"fields": {"new_password": "same as the username or email"}},
        )


def normalize_username(username: str) -> str:
    """A new username: trimmed, 3 to 254 printable characters without spaces. Compared case-insensitively."""
    name = username.strip()
    if not MIN_USERNAME <= len(name) <= MAX_USERNAME:
        raise UsernameRejected(
            f"The username must have {MIN_USERNAME} to {MAX_USERNAME} characters.",
            details={"fields": {"new_username": f"{MIN_USERNAME} to {MAX_USERNAME} characters"}},
        )
    if not name.isprintable() or any(ch.isspace() for ch in name):
        raise UsernameRejected(
            "The username must not contain spaces or control characters.",
            details={"fields": {"new_username": "no spaces or control characters"}},
        )
    return name


def username_candidates(email: str):
    """The email first; if another login on the site took it, the email with a number: ann+2@x.org."""
    yield email
    local, _, domain = email.partition("@")
    for n in range(2, 1000):
        yield f"{local}+{n}@{domain}"


def token_usable(*, expires_at: datetime, used_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    return used_at is None and revoked_at is None and expires_at > now


def account_key(*, site_slug: str, username: str, login_id=None) -> str:
    """The throttling key of an account. An unknown username gets one too, so it behaves alike."""
    return f"login:{login_id}" if login_id else f"name:{site_slug}:{username.strip().lower()}"


def staff_account_key(*, site_id, email: str) -> str:
    """A staff account's throttling key: the same for a known and an unknown email."""
    return f"staff:{site_id}:{email.strip().lower()}"


STAFF_ROLES = ("owner", "support")


class StaffRejected(AuthError):
    status = 422
    code = "validation_failed"


def check_staff(email: str, role: str) -> str:
    """A staff account's email (trimmed) and role, or 422 saying what is wrong."""
    email = email.strip()
    if not (3 <= len(email) <= 254 and "@" in email and email.isprintable() and " " not in email):
        raise StaffRejected("The email address is not valid.", details={"fields": {"email": "an email address"}})
    if role not in STAFF_ROLES:
        raise StaffRejected("The role must be owner or support.", details={"fields": {"role": "owner or support"}})
    return email


def address_key(address: str) -> str:
    return f"addr:{address}"


def failure_delay(failures: int, *, free: int, base: float, cap: float) -> float:
    """Seconds to hold a failed login's answer: none for the first ``free`` failures, then doubling."""
    if failures <= free:
        return 0.0
    return min(cap, base * 2 ** (failures - free - 1))


def lock_seconds(locks_before: int, *, base: int, cap: int = 86_400) -> int:
    """Each lock of the same key lasts twice as long as the one before, up to a day."""
    return min(cap, base * 2 ** min(locks_before, 20))


def safe_redirect(path: object) -> str | None:
    """A post-login page must be a path on this site: '/x', never '//host' or 'https://host'."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        if path.isprintable() and len(path) <= 2000:
            return path
    return None
