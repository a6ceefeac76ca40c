"""Notify's pure rules: how money and dates read in an email. No I/O."""

from datetime import datetime, timezone

# Digits after the decimal point (ISO 4217 minor units); 2 unless listed.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "INR": "₹"}


def format_money(amount: int, currency: str) -> str:
    """Integer minor units → what a person reads: 1900 USD → "$19.00", 123456 EUR → "€1,234.56".

    Integer arithmetic only: never a float between the event and the email.
    """
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount must be an integer number of minor units")
    currency = currency.upper()
    exponent = _EXPONENTS.get(currency, 2)
    major, minor = divmod(abs(amount), 10**exponent)
    number = f"{major:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    sign = "-" if amount < 0 else ""
    symbol = _SYMBOLS.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def format_date(value: datetime) -> str:
    """A day, as in "March 5, 2026" (UTC)."""
    value = value.astimezone(timezone.utc) if value.tzinfo else value
    return f"{value:%B} {value.day}, {value.year}"


def format_time(value: datetime) -> str:
    value = value.astimezone(timezone.utc) if value.tzinfo else value
    return value.strftime("%Y-%m-%d %H:%M UTC")
