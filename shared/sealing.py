"""Sealed secrets in events: a set-password or reset link travels on the bus encrypted (AES-256-GCM)
under a key only auth (which seals) and notify (which opens) hold, never in plain text.

The keys come from ``CC_LINK_KEYS``: comma-separated ``<key id>:<32 bytes, base64url>`` entries; the
first seals, every one opens (so a rotation keeps the previous key for what is still in a queue or a
dead-letter queue). ``python -m services.cli link-keys new`` prints a fresh entry.

A sealed value is ``sealed.v1.<key id>.<base64url(nonce || ciphertext || tag)>``. The event's type and
login id are the associated data: a sealed link moved into another login's event (or from a reset
event into a welcome one) does not open. Opening fails with ``Unopenable``, whose message says why in
words an operator can act on (it becomes the reason a message is held) and never holds key material.
"""

import base64
import binascii
import os
import re
import sys
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VARIABLE = "CC_LINK_KEYS"
PREFIX = "sealed.v1."
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
NONCE_BYTES = 12


class LinkKeyError(ValueError):
    """``CC_LINK_KEYS`` is missing or malformed: the message says what to set."""


class Unopenable(Exception):
    """A sealed value that cannot be opened here: unknown key id, wrong key, tampered, malformed."""


def _b64decode(text: str) -> bytes:
    """Strict base64url (unpadded): a character outside the alphabet is an error, not skipped."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_key_entry(key_id: str) -> str:
    """A fresh ``<key id>:<key>`` entry for ``CC_LINK_KEYS``."""
    if not KEY_ID.match(key_id):
        raise LinkKeyError(f"a key id is 1-32 letters, digits, '-' or '_': {key_id!r} is not")
    return f"{key_id}:{_b64encode(AESGCM.generate_key(bit_length=256))}"


class LinkKeys:
    """The keys of ``CC_LINK_KEYS``: ``seal`` with the first, ``open`` with whichever the value names."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise LinkKeyError(f"{VARIABLE} holds no key")
        self.current = keys[0][0]
        self._aead = {kid: AESGCM(key) for kid, key in keys}

    @property
    def key_ids(self) -> list[str]:
        return list(self._aead)

    @classmethod
    def parse(cls, value: str) -> "LinkKeys":
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate((e.strip() for e in value.split(",")), start=1):
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            if not sep or not KEY_ID.match(kid):
                raise LinkKeyError(
                    f"{VARIABLE}: entry {n} is not '<key id>:<key>' with a key id of 1-32 letters, digits, '-' or '_'"
                )
            try:
                key = _b64decode(encoded.strip())
            except (binascii.Error, ValueError):
                key = b""
            if len(key) != 32:
                raise LinkKeyError(f"{VARIABLE}: the key of {kid!r} is not 32 bytes in base64url")
            if kid in (k for k, _ in keys):
                raise LinkKeyError(f"{VARIABLE}: key id {kid!r} appears twice")
            keys.append((kid, key))
        return cls(keys)

    def seal(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead[self.current].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{PREFIX}{self.current}.{_b64encode(nonce + sealed)}"

    def open(self, sealed: str, *, context: str) -> str:
        if not sealed.startswith(PREFIX):
            raise Unopenable("it is not a sealed value (an older or foreign producer?)")
        kid, _, body = sealed[len(PREFIX):].partition(".")
        aead = self._aead.get(kid)
        if aead is None:
            raise Unopenable(
                f"it was sealed with key {kid!r}, which is not in this service's {VARIABLE} "
                f"(it has {', '.join(repr(k) for k in self._aead)})"
            )
        try:
            data = _b64decode(body)
        except (binascii.Error, ValueError):
            raise Unopenable("it is not valid base64url (truncated or altered)") from None
        if len(data) <= NONCE_BYTES + 16:
            raise Unopenable("it is too short to be a sealed value (truncated)")
        try:
            return aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
        except InvalidTag:
            raise Unopenable(
                f"it does not authenticate under key {kid!r}: altered, sealed for another event, "
                f"or {kid!r} is not the same key in auth and here"
            ) from None


_PARSED: dict[str, LinkKeys] = {}


def link_keys_of(settings) -> LinkKeys:
    """The service's keys (parsed once per value); ``LinkKeyError`` when ``CC_LINK_KEYS`` is unset or
    malformed."""
    value = settings.link_keys.get_secret_value() if settings.link_keys is not None else ""
    if not value.strip():
        raise LinkKeyError(f"{VARIABLE} is not set")
    keys = _PARSED.get(value)
    if keys is None:
        keys = _PARSED[value] = LinkKeys.parse(value)
    return keys


def require_link_keys(settings) -> LinkKeys:
    """For ``__main__``: the keys, or exit 2 with what to set (a service without them must not start:
    auth could not seal a link, notify could not open one)."""
    try:
        return link_keys_of(settings)
    except LinkKeyError as exc:
        print(
            f"{settings.service} cannot start: {exc}.\n"
            f"Set {VARIABLE} to the same value in auth and notify: one or more '<key id>:<key>' entries, "
            f"comma-separated, the first sealing and all opening. Make a key with:\n"
            f"    python -m services.cli link-keys new\n"
            f"(`make run` makes one for itself; Kubernetes: the key CC_LINK_KEYS of the Secret cc-secrets; "
            f"docs/operations.md, 'Link keys').",
            file=sys.stderr,
        )
        raise SystemExit(2) from None


@dataclass(frozen=True)
class SealedField:
    """A merge field that stays sealed until the email is rendered (services/notify/email.py opens it
    right before rendering, so the plain link exists only in the rendered message)."""

    name: str
    value: str
    context: str
    keys: LinkKeys | None

    def open(self) -> str:
        if not self.value:
            return ""  # blank: the template's required-field check holds the message
        if self.keys is None:
            raise Unopenable(f"this service has no {VARIABLE}")
        return self.keys.open(self.value, context=self.context)


def link_context(routing_key: str, login_id) -> str:
    """The associated data that binds a sealed link to its event type and login."""
    return f"{routing_key}|{login_id}"
