"""Helpers for the pages' HTTP-level tests: a client with a browser's cookie jar, forms and their
CSRF tokens, a bought subscription."""

import re
import uuid
from html import unescape

import aiohttp
import pytest

from services.membership.seed import demo_id
from tests.e2e.helpers import welcome_fields
from tests.factories import unique_email

MONTHLY = str(demo_id("product:monthly"))  # $19.00 a month; its first payment grants Gold
VISA_OK = "4242424242424242"
DECLINED = "4000000000000002"


@pytest.fixture
async def browser_like(system):
    """A client that keeps cookies like a browser does (also for 127.0.0.1) and does not follow redirects."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=system.processes["gateway"].url, cookie_jar=jar) as session:
        yield session


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return unescape(match.group(1))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name}"
    return unescape(match.group(1))


async def page(client, path: str, expect: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as r:
        text = await r.text()
        assert r.status == expect, (r.status, text[:500])
        return text


async def tokenise(client, number: str = VISA_OK) -> str:
    async with client.post("/sandbox/v1/tokens", json={"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["token"]


async def buy_on_order_form(client, smtp, number: str = VISA_OK, product: str = MONTHLY, email: str | None = None):
    """The order form as a browser fills it: GET the form, tokenise the card, POST the token."""
    email = email or unique_email("buyer")
    html = await page(client, f"/checkout/{product}?site=demo")
    form = {
        "csrf_token": csrf_of(html), "site": "demo", "checkout_key": hidden(html, "checkout_key"),
        "card_token": await tokenise(client, number), "first_name": "Bea", "last_name": "Buyer", "email": email,
    }
    async with client.post(f"/checkout/{product}", data=form, allow_redirects=False) as r:
        return email, r.status, await r.text()


async def set_password_and_log_in(client, smtp, email: str, password: str) -> aiohttp.ClientResponse:
    fields = welcome_fields((await smtp.welcome(email))[0])
    html = await page(client, f"/password/set?token={fields['token']}")
    async with client.post("/password/set", data={
        "csrf_token": csrf_of(html), "token": fields["token"], "new_password": password, "confirm_password": password,
    }) as r:
        assert r.status == 200, await r.text()
    html = await page(client, "/login?site=demo")
    async with client.post("/login", allow_redirects=False, data={
        "csrf_token": csrf_of(html), "site": "demo", "username": fields["username"], "password": password,
    }) as r:
        assert r.status == 303, await r.text()
        return r


def new_key() -> str:
    return uuid.uuid4().hex
