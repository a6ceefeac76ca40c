"""Typed keys for what the auth app holds besides the shared resources."""

from aiohttp import web

from services.auth.keys import SigningKey
from services.auth.passwords import Passwords

PASSWORDS = web.AppKey("passwords", Passwords)
SIGNING_KEY = web.AppKey("signing_key", SigningKey)
JWKS = web.AppKey("jwks", list)
