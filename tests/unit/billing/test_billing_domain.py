"""Billing's pure rules: the calendar, dunning days, money, and the sandbox's card checks."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.billing.domain import (
    add_months, format_money, idempotency_key, installments_summary, period_start, retry_at,
)
from services.sandbox.domain import CardInvalid, brand_of, check_card, luhn_valid


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_monthly_anniversaries_clamp_to_the_month_end_without_drifting():
    anchor = utc(2027, 1, 31, 10)
    starts = [period_start(anchor, 0, i, "month", 1) for i in range(5)]
    assert starts == [utc(2027, 1, 31, 10), utc(2027, 2, 28, 10), utc(2027, 3, 31, 10), utc(2027, 4, 30, 10), utc(2027, 5, 31, 10)]
    assert period_start(utc(2028, 1, 31), 0, 1, "month", 1) == utc(2028, 2, 29)


def test_other_intervals_and_counts():
    anchor = utc(2028, 2, 29)
    assert period_start(anchor, 0, 1, "year", 1) == utc(2029, 2, 28)
    assert period_start(anchor, 0, 4, "year", 1) == utc(2032, 2, 29)
    assert period_start(anchor, 0, 2, "week", 2) == anchor + timedelta(weeks=4)
    assert period_start(utc(2027, 8, 31), 0, 1, "month", 3) == utc(2027, 11, 30)
    # A re-anchored schedule counts from its new anchor.
    assert period_start(utc(2030, 1, 31), 5, 7, "month", 1) == utc(2030, 3, 31)
    assert add_months(utc(2027, 12, 15), 1) == utc(2028, 1, 15)


def test_retries_fall_on_the_configured_days_after_the_first_failure_then_stop():
    first = utc(2030, 3, 10, 12)
    days = [1, 3, 5]
    assert [retry_at(first, n, days) for n in (1, 2, 3, 4)] == [
        first + timedelta(days=1), first + timedelta(days=3), first + timedelta(days=5), None,
    ]


def test_money_is_shown_from_integer_minor_units():
    assert format_money(12500, "USD") == "$125.00"
    assert format_money(5, "USD") == "$0.05"
    assert format_money(123456789, "EUR") == "€1,234,567.89"
    assert format_money(100, "JPY") == "1.00 JPY"
    assert installments_summary(3, 6, 2500, "USD") == "3 of 6 paid, $75.00 left"


def test_the_idempotency_key_names_the_order_period_attempt_and_card():
    order, card = uuid4(), uuid4()
    assert idempotency_key(order, 4, 2) == f"order:{order}:period:4:attempt:2"
    assert idempotency_key(order, 4, 2, card) == f"order:{order}:period:4:attempt:2:card:{card}"
    assert idempotency_key(order, 4, 2, card) != idempotency_key(order, 4, 3, card) != idempotency_key(order, 4, 2, uuid4())


def test_sandbox_card_checks():
    now = utc(2026, 11, 25)
    assert luhn_valid("4242424242424242") and not luhn_valid("4242424242424241")
    assert brand_of("5555555555554444") == "mastercard" and brand_of("378282246310005") == "amex"
    card = check_card("4242 4242 4242 4242", 11, 2026, "123", now)
    assert (card.brand, card.last4, card.behaviour) == ("visa", "4242", "succeed")
    assert check_card("4000000000000002", 1, 2030, "123", now).behaviour == "decline"
    with pytest.raises(CardInvalid) as err:
        check_card("4242424242424242", 10, 2026, "12", now)
    assert set(err.value.details["fields"]) == {"exp_year", "cvc"}
