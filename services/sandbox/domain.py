"""The sandbox's rules: card number checks and the documented test cards. Pure: no I/O."""

from dataclasses import dataclass
from datetime import datetime

from shared.errors import ServiceError

# The documented test numbers (../shared/API.md); any other Luhn-valid number succeeds.
TEST_CARDS = {
    "4242424242424242": "succeed",
    "4000000000000002": "decline",
    "4000000000009995": "insufficient_funds",
    "4000000000000119": "processing_error",
}

DECLINES = {
    "decline": ("card_declined", "The card was declined."),
    "insufficient_funds": ("insufficient_funds", "The card has insufficient funds."),
}


class CardInvalid(ServiceError):
    status = 422
    code = "card_invalid"
    message = "The card details are not valid."


class IdempotencyKeyReused(ServiceError):
    status = 409
    code = "idempotency_key_reused"
    message = "This idempotency key was used with different parameters."


class ProcessingError(ServiceError):
    """Transient: nothing is recorded under the key, so a retry with the same key runs again."""

    status = 503
    code = "processing_error"
    message = "The processor could not complete the charge. Retry with the same idempotency key."


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    if number.startswith("6011") or number.startswith("65"):
        return "discover"
    return "unknown"


@dataclass(frozen=True)
class CardCheck:
    brand: str
    last4: str
    behaviour: str


def check_card(number: str, exp_month: int, exp_year: int, cvc: str, now: datetime) -> CardCheck:
    """The card's brand, last four digits and test behaviour; ``CardInvalid`` naming what is wrong."""
    number = number.replace(" ", "").replace("-", "")
    fields: dict[str, str] = {}
    if not luhn_valid(number):
        fields["number"] = "not a valid card number"
    if not 1 <= exp_month <= 12:
        fields["exp_month"] = "must be 1 to 12"
    elif (exp_year, exp_month) < (now.year, now.month):
        fields["exp_year"] = "the card has expired"
    if not (cvc.isdigit() and len(cvc) in (3, 4)):
        fields["cvc"] = "must be 3 or 4 digits"
    if fields:
        raise CardInvalid(details={"fields": fields})
    return CardCheck(brand=brand_of(number), last4=number[-4:], behaviour=TEST_CARDS.get(number, "succeed"))
