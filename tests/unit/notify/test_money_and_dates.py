from datetime import datetime, timezone

import pytest

from services.notify.domain import format_date, format_money


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        (1900, "USD", "$19.00"),
        (5, "USD", "$0.05"),
        (123456789, "EUR", "€1,234,567.89"),
        (-1900, "GBP", "-£19.00"),
        (1900, "JPY", "¥1,900"),
        (1500, "KWD", "1.500 KWD"),
        (1999, "CHF", "19.99 CHF"),
        (10**20 + 1, "USD", "$1,000,000,000,000,000,000.01"),  # no float ever rounds it
    ],
)
def test_money_reads_from_integer_minor_units(amount, currency, expected):
    assert format_money(amount, currency) == expected


@pytest.mark.parametrize("amount", [19.0, "1900", True])
def test_money_refuses_anything_but_an_integer(amount):
    with pytest.raises(TypeError):
        format_money(amount, "USD")


def test_a_date_reads_as_a_day():
    assert format_date(datetime(2030, 3, 5, 23, 59, tzinfo=timezone.utc)) == "March 5, 2030"
