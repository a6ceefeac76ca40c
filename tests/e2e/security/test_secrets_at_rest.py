"""Secrets (issue 10): after the whole suite (this test runs last), the database dump, every email,
every event the suite published (the ``recorded_events`` queue, bound from before the services
started) and every line of every service's log hold no Luhn-valid card number, no CVC, no password
field with a value, no access token (a JWT), none of the passwords and tokens the suite's sign-ups
used, and, outside the emails that carry them, none of the set-password or reset links' tokens: not
even the two events that ask notify for those emails, which carry the link sealed (shared/sealing.py)."""

import asyncio
import json
import re
import subprocess

from tests.e2e.billing.conftest import ADMIN, MONTHLY, tokenise
from tests.e2e.helpers import ISSUED, sign_up_and_log_in

CARD_RUN = re.compile(rb"(?<![0-9A-Za-z])(?:\d[ -]?){12,18}\d(?![0-9A-Za-z])")
CVC = re.compile(rb'"?cvc"?\s*[:=]\s*"?\d{3,4}', re.I)
PASSWORD_FIELD = re.compile(rb'"(?:new_|current_)?password"\s*:\s*"[^"*]', re.I)


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


JWT = re.compile(rb"eyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]{20,}")
LINK_TOKEN = re.compile(r"/password/(?:set|reset)\?token=([\w-]{20,})")
# A link of any token in any event: an event that carries a link in plain text is a finding even
# when its token is not one of the emails' (a message held, a test's own event).
PLAIN_LINK = re.compile(rb"/password/(?:set|reset)\?token=")
TOKEN_LIKE = re.compile(rb"[\w-]{20,}")
UUID = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def card_numbers(blob: bytes) -> list[str]:
    """Luhn-valid runs of 13-19 digits, each with a little context (masked) to find where it is.
    UUIDs go first: one whose first groups are all digits reads like a card written with dashes."""
    blob = UUID.sub(b"<uuid>", blob)
    found = []
    for m in CARD_RUN.finditer(blob):
        digits = re.sub(rb"[ -]", b"", m.group()).decode()
        if blob[max(0, m.start() - 15):m.start()] == b"=" * 15:
            continue  # a MIME boundary (Python's email: 15 "=", a random 19-digit number, "==")
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
            context = blob[max(0, m.start() - 40):m.start()].decode(errors="replace")
            after = blob[m.end():m.end() + 30].decode(errors="replace")
            found.append(f"{digits[:4]}… after {context!r}, before {after!r}")
    return found


async def recorded(amqp, queue_name: str) -> list[bytes]:
    """Every message in the run's recording queue (it holds what the whole suite published)."""
    channel = await amqp.channel()
    await channel.set_qos(prefetch_count=500)
    queue = await channel.declare_queue(queue_name, passive=True)
    bodies: list[bytes] = []
    while True:
        message = await queue.get(no_ack=True, fail=False, timeout=10)
        if message is None:
            break
        bodies.append(message.body)
    await channel.close()
    return bodies


def event_type(body: bytes) -> str:
    """The event's type, to name where a finding is (the poison-message tests publish malformed ones)."""
    try:
        return str(json.loads(body).get("type"))
    except (ValueError, AttributeError):
        return "(not an event)"


def link_tokens(messages) -> set[bytes]:
    """The set-password and reset tokens of every link the suite's emails carried."""
    tokens = set()
    for m in messages:
        for part in m.walk():
            if part.get_content_maintype() == "text":
                tokens.update(t.encode() for t in LINK_TOKEN.findall(part.get_content()))
    return tokens


async def test_no_card_number_cvc_password_or_token_anywhere_after_the_suite(
    system, gateway, smtp, db, log_dir, database_url, amqp, recorded_events
):
    # A contact pays with a card: the number and CVC cross the gateway to the processor.
    person = await sign_up_and_log_in(gateway, smtp)
    card = await tokenise(gateway, "4242424242424242")
    async with gateway.post(
        "/admin/api/orders", json={"contact_id": person["contact_id"], "product_id": MONTHLY, "card_token": card["token"]},
        headers=ADMIN,
    ) as r:
        assert r.status == 201, await r.text()
    async with gateway.get("/api/me", headers=person["auth"]) as r:
        assert r.status == 200
    await asyncio.sleep(1)  # the last events reach the recording queue, the last log lines their files

    events = await recorded(amqp, recorded_events)
    dump = subprocess.run(["pg_dump", "--data-only", database_url], check=True, capture_output=True).stdout
    # One place per table, so a finding names where it is.
    places = {
        "table " + part.split(b" ", 1)[0].decode(errors="replace"): part
        for part in dump.split(b"\nCOPY ")
    }
    places.update({f"log {p.name}": p.read_bytes() for p in log_dir.glob("*.log")})
    emails = {f"email {i} to {m['To']}": m.as_bytes() for i, m in enumerate(smtp.messages)}
    places.update(emails)
    places.update({f"event {i} {event_type(b)}": b for i, b in enumerate(events)})
    passwords = [s for s in ISSUED if not s.startswith("eyJ")]
    tokens = {s.encode() for s in ISSUED if s not in passwords} | link_tokens(smtp.messages)
    print(f"scanned {len(dump)} bytes of dump, {len(events)} events, {len(emails)} emails, "
          f"{sum(len(p.read_bytes()) for p in log_dir.glob('*.log'))} bytes of logs; "
          f"looked for {len(passwords)} passwords and {len(tokens)} tokens")
    assert events and emails and passwords and tokens

    findings = []
    for where, blob in places.items():
        findings += [(where, "card number", n) for n in card_numbers(blob)]
        findings += [(where, "cvc", m.group()[:12]) for m in CVC.finditer(blob)]
        findings += [(where, "password field", m.group()[:20]) for m in PASSWORD_FIELD.finditer(blob)]
        findings += [(where, "access token", m.group()[:12]) for m in JWT.finditer(blob)]
        findings += [(where, "a sign-up's password or refresh token", p[:6] + "…") for p in passwords if p.encode() in blob]
        if where not in emails:  # an email carries its own link's token, on purpose; nothing else does
            findings += [(where, "token", t[:6]) for t in set(TOKEN_LIKE.findall(blob)) & tokens]
        if where.startswith("event "):
            findings += [(where, "plain set-password or reset link", m.group()[:16]) for m in PLAIN_LINK.finditer(blob)]
    assert findings == [], findings[:20]
