"""The MIME notify writes itself must read back, through the stdlib's strict parser, as what was rendered."""

import email
import email.policy
import uuid

import pytest

from services.notify.email import build_mime


def parsed(**overrides) -> email.message.EmailMessage:
    fields = dict(
        message_id=uuid.uuid4(),
        sender="Customer Center <no-reply@customer-center.localhost>",
        to="ann@example.org",
        subject="Welcome",
        text="Hello Ann,\n",
        html="<p>Hello Ann</p>\n",
    )
    fields.update(overrides)
    return email.message_from_bytes(build_mime(**fields), policy=email.policy.default)


def test_non_ascii_headers_and_bodies_read_back_exactly():
    text = "Bonjour Zoë,\n\n.a line that starts with a dot\nFrom the start\nLien : https://x.org/set?token=a=b\n" + "mot " * 80 + "\n"
    html = "<p>Bonjour Zoë — bienvenue</p>\n" * 30
    msg = parsed(sender="Zoë's Shop <shop@example.org>", subject="Bienvenue à « Démo » " + "é" * 90,
                 text=text, html=html, reply_to="Équipe <help@example.org>")
    assert msg.defects == []
    assert msg["Subject"] == "Bienvenue à « Démo » " + "é" * 90
    assert msg["From"].addresses[0].display_name == "Zoë's Shop"
    assert msg["From"].addresses[0].addr_spec == "shop@example.org"
    assert msg["Reply-To"].addresses[0].display_name == "Équipe"
    assert msg["To"] == "ann@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content() == text
    assert msg.get_body(("html",)).get_content() == html
    assert msg["Date"] and msg["Message-ID"].endswith("@customer-center>")


def test_every_line_fits_smtp_limits():
    raw = build_mime(message_id=uuid.uuid4(), sender="a@example.org", to="b@example.org", subject="S " * 600,
                     text="x" * 5000, html="<p>" + "y" * 5000 + "</p>")
    assert max(len(line) for line in raw.split(b"\n")) <= 998
    assert raw.isascii()


def test_no_reply_to_header_unless_one_is_set():
    assert parsed()["Reply-To"] is None


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(ValueError):
        parsed(subject="Welcome\r\nBcc: someone@example.org")


def test_a_bare_address_is_written_as_the_parser_would_write_it_and_a_named_one_is_parsed():
    from email.utils import formataddr, parseaddr

    from services.notify.email import _BARE_ADDRESS, _address

    for bare in ("ann@example.org", "a.b+c@sub.example.org", "o'neil@example.ie", "A_B-c=d@EXAMPLE.COM", "x@y"):
        assert _BARE_ADDRESS.fullmatch(bare) and _address(bare) == formataddr(parseaddr(bare)) == bare
    for other in ("a..b@example.org", ".a@example.org", "a@b..c", "Ann Lee <ann@example.org>", "ü@example.org"):
        assert not _BARE_ADDRESS.fullmatch(other)
    assert _address("Ann Lee <ann@example.org>") == "Ann Lee <ann@example.org>"
    assert _address("Zoë <zoe@example.org>") == formataddr(("Zoë", "zoe@example.org"), charset="utf-8")
    with pytest.raises(ValueError):
        _address("Ann <ann@example.org>\r\nBcc: x@example.org")
