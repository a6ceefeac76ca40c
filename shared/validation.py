"""Field types shared by request bodies."""

import re
from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, Field, StringConstraints


def _email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None
    return result.normalized


def _any_case(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in name)


# What the document says of an email: the format, and none of the special-use domains (.test, .local,
# .invalid...) that _email refuses (they cannot receive mail).
EMAIL_SCHEMA = {
    "format": "email",
    "pattern": r"^(?!.*\.(?:" + "|".join(_any_case(d) for d in SPECIAL_USE_DOMAIN_NAMES) + r")\.?$)",
}
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_email), Field(json_schema_extra=EMAIL_SCHEMA)
]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if any(ord(c) < 32 for c in value):
        raise ValueError("must not contain control characters")
    return value.strip()


# The document says what _not_blank checks: something other than spaces, no control character.
Name = Annotated[
    str, Field(min_length=1, max_length=100, pattern=None, json_schema_extra={"pattern": r"^[^\x00-\x1f]*\S[^\x00-\x1f]*$"}),
    AfterValidator(_not_blank),
]
