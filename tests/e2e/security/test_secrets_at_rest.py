"""Secrets (issue 10): after the whole suite (this test runs last), the database dump, every email,
every event seen on the bus and every log line hold no Luhn-valid card number, no CVC, and none of
the passwords or tokens of a contact who paid with a card."""

import json
import re
import subprocess

import aio_pika

from tests.e2e.billing.conftest import ADMIN, MONTHLY, tokenise
from tests.e2e.helpers import sign_up_and_log_in

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


async def test_no_card_number_cvc_password_or_token_anywhere_after_the_suite(
    system, gateway, smtp, db, log_dir, database_url, amqp, bus_prefix
):
    channel = await amqp.channel()
    exchange = await channel.declare_exchange(f"{bus_prefix}cc.events", aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="#")
    events: list[bytes] = []

    async def on_message(message):
        async with message.process():
            events.append(message.body)

    await queue.consume(on_message)

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
    await channel.close()

    secrets = [person["password"], person["tokens"]["access_token"], person["tokens"]["refresh_token"]]
    dump = subprocess.run(["pg_dump", "--data-only", database_url], check=True, capture_output=True).stdout
    # One place per table, so a finding names where it is.
    places = {
        "table " + part.split(b" ", 1)[0].decode(errors="replace"): part
        for part in dump.split(b"\nCOPY ")
    }
    places.update({f"log {p.name}": p.read_bytes() for p in log_dir.glob("*.log")})
    places.update({f"email {i} to {m['To']}": m.as_bytes() for i, m in enumerate(smtp.messages)})
    places.update({f"event {json.loads(b)['type']}": b for b in events})
    assert len(places) > 10 and events

    findings = []
    for where, blob in places.items():
        findings += [(where, "card number", n) for n in card_numbers(blob)]
        findings += [(where, "cvc", m.group()[:12]) for m in CVC.finditer(blob)]
        findings += [(where, "password field", m.group()[:20]) for m in PASSWORD_FIELD.finditer(blob)]
        findings += [(where, "secret of the paying contact", s[:6] + "…") for s in secrets if s.encode() in blob]
    assert findings == [], findings[:20]
