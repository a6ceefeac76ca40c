import re
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit


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
