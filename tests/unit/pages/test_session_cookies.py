"""Session cookies: HttpOnly and SameSite always; Secure per CC_COOKIE_SECURE (unset: when over TLS)."""

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.gateway.settings import GatewaySettings
from services.gateway.web.session import set_session
from shared.app import SETTINGS


def cookies_for(cookie_secure, scheme: str = "http") -> dict:
    app = web.Application()
    app[SETTINGS] = GatewaySettings(**({} if cookie_secure is None else {"CC_COOKIE_SECURE": cookie_secure}))
    headers = {"X-Forwarded-Proto": scheme}
    request = make_mocked_request("POST", "/login", headers=headers, app=app)
    request = request.clone(scheme=scheme)
    response = web.Response()
    set_session(response, request, {"access_token": "a", "refresh_token": "r"}, site="demo")
    return response.cookies


@pytest.mark.parametrize("setting, scheme, secure", [(None, "http", False), (None, "https", True), (True, "http", True), (False, "https", False)])
def test_secure_follows_the_setting_or_the_scheme(setting, scheme, secure):
    for name, morsel in cookies_for(setting, scheme).items():
        assert morsel["httponly"] is True and morsel["samesite"] == "Lax" and morsel["path"] == "/", name
        assert bool(morsel["secure"]) is secure, name
