"""Each default email, triggered by its real event through the broker, arrives at the SMTP server
with every merge field filled: the test parses the MIME message, both parts."""

import uuid
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from shared.events.auth import PasswordChanged, PasswordResetRequested, UsernameChanged
from shared.events.billing import (
    CardExpiryApproached,
    Money,
    OrderCompleted,
    PaymentFailed,
    PaymentSucceeded,
    SubscriptionCancelled,
)
from tests.conftest import eventually, seal_link
from tests.e2e.notify.conftest import credentials_issued, known_contact, publish

PAID_AT = datetime(2030, 3, 5, 10, 30, tzinfo=timezone.utc)


def parts(msg: EmailMessage) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def reset_requested(fields: dict, link: str) -> PasswordResetRequested:
    return PasswordResetRequested(**fields, reset_link=seal_link(PasswordResetRequested, fields["login_id"], link))


def cases(public: str):
    """template -> (event factory, producer, what the email must say)."""
    payment_id = uuid.uuid4()

    def billing(c, s, **kw):
        return dict(contact_id=c["contact_id"], site_id=s["id"], product_id=uuid.uuid4(), product_name="Pro Plan", **kw)

    def auth(c, s, **kw):
        return dict(login_id=uuid.uuid4(), contact_id=c["contact_id"], site_id=s["id"], site_name=s["name"], email=c["email"], first_name=c["first_name"], **kw)

    return {
        "welcome": (lambda c, s: credentials_issued(c, s), "auth", lambda c: [c["email"], "Gold", "/password/set?token=tok-", "2031-01-02 03:04 UTC"]),
        "credentials_resent": (lambda c, s: credentials_issued(c, s, resent=True), "auth", lambda c: ["login details", c["email"], "/password/set?token=tok-", "earlier links no longer work"]),
        "password_reset": (
            lambda c, s: reset_requested(auth(c, s, username=c["email"], expires_at=PAID_AT), f"{public}/password/set?token=reset-1"),
            "auth",
            lambda c: [c["email"], f"{public}/password/set?token=reset-1", "2030-03-05 10:30 UTC"],
        ),
        "payment_succeeded": (
            lambda c, s: PaymentSucceeded(**billing(c, s, payment_id=payment_id, order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), kind="subscription", amount=Money(amount=1900, currency="USD"), card_brand="Visa", card_last4="4242", period_start=PAID_AT, period_end=None, sequence=1, paid_at=PAID_AT)),
            "billing",
            lambda c: ["$19.00", "Pro Plan", "Visa", "4242", "March 5, 2030", f"{public}/center/receipts/{payment_id}"],
        ),
        "payment_failed": (
            lambda c, s: PaymentFailed(**billing(c, s, payment_id=uuid.uuid4(), order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), amount=Money(amount=123456, currency="USD"), card_brand="Visa", card_last4="0002", reason="card_declined", attempt=1, next_retry_at=datetime(2030, 3, 8, tzinfo=timezone.utc))),
            "billing",
            lambda c: ["$1,234.56", "Pro Plan", "0002", "March 8, 2030", f"{public}/center#cards"],
        ),
        "payment_failed_final": (
            lambda c, s: PaymentFailed(**billing(c, s, payment_id=uuid.uuid4(), order_id=uuid.uuid4(), invoice_id=uuid.uuid4(), amount=Money(amount=500, currency="EUR"), card_brand="Visa", card_last4="9995", reason="insufficient_funds", attempt=4, next_retry_at=None)),
            "billing",
            lambda c: ["€5.00", "Pro Plan", "9995", "will not try again", f"{public}/center#cards"],
        ),
        "subscription_cancelled": (
            lambda c, s: SubscriptionCancelled(**billing(c, s, order_id=uuid.uuid4(), cancelled_by="contact", reason="too expensive", when="period_end", cancelled_at=PAID_AT, access_ends_at=datetime(2030, 4, 1, tzinfo=timezone.utc))),
            "billing",
            lambda c: ["Pro Plan", "April 1, 2030"],
        ),
        "payment_plan_completed": (
            lambda c, s: OrderCompleted(**billing(c, s, order_id=uuid.uuid4(), installments_paid=3, total=Money(amount=29700, currency="USD"), completed_at=PAID_AT)),
            "billing",
            lambda c: ["Pro Plan", "3 installments", "$297.00"],
        ),
        "card_expiring": (
            lambda c, s: CardExpiryApproached(card_id=uuid.uuid4(), contact_id=c["contact_id"], site_id=s["id"], brand="Mastercard", last4="4444", exp_month=4, exp_year=2030),
            "billing",
            lambda c: ["Mastercard", "4444", "April 2030", f"{public}/center#cards"],
        ),
        "username_changed": (
            lambda c, s: UsernameChanged(**auth(c, s, old_username="old-name@example.org", new_username="new-name@example.org", changed_at=PAID_AT)),
            "auth",
            lambda c: ["old-name@example.org", "new-name@example.org", "2030-03-05 10:30 UTC", f"{public}/password/forgot"],
        ),
        "password_changed": (
            lambda c, s: PasswordChanged(**auth(c, s, changed_at=PAID_AT)),
            "auth",
            lambda c: ["2030-03-05 10:30 UTC", f"{public}/password/forgot", "other sessions were logged out"],
        ),
    }


TEMPLATES = list(cases("").keys())


@pytest.mark.parametrize("template", TEMPLATES)
async def test_each_default_email_arrives_from_its_event_with_every_merge_field_filled(
    template, system, school, amqp, bus_prefix, db, smtp
):
    public = system.service_env()["CC_PUBLIC_URL"]
    make, producer, expected = cases(public)[template]
    contact = await known_contact(amqp, bus_prefix, db, school, first_name="Dora")
    envelope = await publish(amqp, bus_prefix, make(contact, school), producer=producer)

    [msg] = await smtp.wait_for(contact["email"])
    text, html = parts(msg)
    assert msg["To"] == contact["email"]
    assert msg["Subject"].strip() and "{" not in msg["Subject"]
    for part in (text, html):
        assert "Hello Dora," in part.replace("<p>", "")
        assert school["name"] in part
        for value in expected(contact):
            assert value in part.replace("&amp;", "&"), (template, value, part)
        assert "{{" not in part and "None" not in part
    async def recorded():
        row = await db.fetchrow("SELECT template, status FROM notify.messages WHERE event_id = $1", envelope.id)
        return dict(row) if row and row["status"] not in ("queued", "sending") else None

    assert await eventually(recorded, timeout=5) == {"template": template, "status": "sent"}


async def test_a_receipt_for_a_site_no_event_named_yet_asks_membership_for_the_name(demo_site, amqp, bus_prefix, db, smtp):
    """A payment can overtake the first grant of a site: the name comes from membership's API, not a blank."""
    public = "http://unused"
    make, producer, _ = cases(public)["payment_succeeded"]
    contact = await known_contact(amqp, bus_prefix, db, demo_site, first_name="Eve")
    await db.execute("DELETE FROM notify.sites WHERE id = $1", demo_site["id"])
    await publish(amqp, bus_prefix, make(contact, demo_site), producer=producer)
    [msg] = await smtp.wait_for(contact["email"])
    assert demo_site["name"] in msg["Subject"] and demo_site["name"] in msg.get_body(("plain",)).get_content()
    assert await db.fetchval("SELECT name FROM notify.sites WHERE id = $1", demo_site["id"]) == demo_site["name"]
