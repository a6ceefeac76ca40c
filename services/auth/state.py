"""Typed keys for what the auth app holds besides the shared resources."""

from dataclasses import dataclass

from aiohttp import web

from services.auth.keys import SigningKey
from services.auth.passwords import Passwords
from services.auth.throttle import Throttle


@dataclass
class KeyRing:
    """The key that signs now; replaced in place when a rotation is picked up."""

    current: SigningKey


PASSWORDS = web.AppKey("passwords", Passwords)
KEYRING = web.AppKey("keyring", KeyRing)
THROTTLE = web.AppKey("throttle", Throttle)
