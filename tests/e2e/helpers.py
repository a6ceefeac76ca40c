import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit


# Every password and token the helpers below made or received: the secrets scan after the suite
# (tests/e2e/security/test_secrets_at_rest.py) looks for each of them everywhere.
ISSUED: list[str] = []


def welcome_fields(msg: EmailMessage) -> dict[str, str]:
    """What a person reads in the welcome email: the username and the set-password link."""
    text = msg.get_body(("plain",)).get_content()
    username = re.search(r"^Your username: (.*)$", text, re.M)
    link = re.search(r"(https?://\S+/password/set\?token=\S+)", text)
    assert username and link, text
    return {
        "username": username.group(1).strip(),
        "link": link.group(1),
        "token": parse_qs(urlsplit(link.group(1)).query)["token"][0],
        "text": text,
        "html": msg.get_body(("html",)).get_content(),
    }


async def sign_up_and_log_in(gateway, smtp, **overrides) -> dict:
    """A contact the way a person becomes one: register, follow the email's link, log in."""
    from tests.factories import registration

    body = registration(**overrides)
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201, await r.text()
        contact_id = (await r.json())["contact_id"]
    fields = welcome_fields((await smtp.welcome(body["email"]))[0])
    password = "pass " + fields["token"][:12]
    async with gateway.post("/api/password/set", json={"token": fields["token"], "new_password": password}) as r:
        assert r.status == 200, await r.text()
    async with gateway.post("/api/login", json={"site": body["site"], "username": body["email"], "password": password}) as r:
        assert r.status == 200, await r.text()
        tokens = await r.json()
    ISSUED.extend([password, tokens["access_token"], tokens["refresh_token"]])
    return {
        **body,
        "contact_id": contact_id,
        "password": password,
        "tokens": tokens,
        "auth": {"Authorization": f"Bearer {tokens['access_token']}"},
    }
