"""Every branch of the Center's and the order form's templates renders (payment plans, one-time
products, cancelled orders, no cards), in both languages."""

import pytest

from services.gateway.pages import _env
from services.gateway.web.catalogue import MESSAGES
from services.gateway.web.i18n import Translator

PRICE = {"amount": 4900, "currency": "USD"}
CARD = {"id": "c1", "brand": "visa", "last4": "4242", "exp_month": 3, "exp_year": 2030, "is_default": True, "orders": [{"id": "o1"}]}
ORDERS = [
    {"id": "o1", "product_name": "Course plan", "kind": "payment_plan", "price": PRICE, "interval": "month",
     "interval_count": 1, "status": "active", "next_billing_date": "2030-01-01T00:00:00Z", "card": CARD,
     "cancel_at_period_end": False, "access_ends_at": None, "installments": {"paid": 1, "total": 3}},
    {"id": "o2", "product_name": "Club", "kind": "subscription", "price": PRICE, "interval": "week",
     "interval_count": 2, "status": "active", "next_billing_date": "2030-01-01T00:00:00Z", "card": None,
     "cancel_at_period_end": True, "access_ends_at": "2030-01-01T00:00:00Z"},
    {"id": "o3", "product_name": "Old", "kind": "subscription", "price": PRICE, "interval": "year",
     "interval_count": 1, "status": "cancelled", "next_billing_date": None, "card": None,
     "cancel_at_period_end": False, "access_ends_at": None},
]


def base(lang: str) -> dict:
    return {
        "t": Translator(lang), "lang": lang, "languages": tuple(MESSAGES), "site": {"name": "Demo", "slug": "demo", "theme": {"logo_url": "https://example.org/l.png"}},
        "theme_css": "", "nonce": "n", "csrf_field": "csrf_token", "csrf": "tok", "path": "/center", "keep_query": [],
        "done": None, "error": None, "title": "T",
    }


@pytest.mark.parametrize("lang", list(MESSAGES))
def test_the_center_renders_every_kind_of_order_and_section(lang):
    html = _env.get_template("center/page.html").render(
        **base(lang), me={"first_name": "Ann"}, sections=("invoices", "payments", "orders", "cards", "account"),
        all_sections=("invoices", "payments", "orders", "cards", "account"), cards=[CARD], account={"username": "ann"},
        data={
            "invoices": [{"id": "i1", "product_name": "Club", "amount": PRICE, "created_at": "2030-01-01T00:00:00Z"}],
            "payments": [{"id": "p1", "product_name": "Club", "amount": PRICE, "status": "refunded",
                          "created_at": "2030-01-01T00:00:00Z", "receipt_url": "/x"}],
            "orders": ORDERS, "cards": [CARD], "account": {"username": "ann"},
        },
    )
    assert ("1 of 3 installments paid" if lang == "en" else "1 échéances payées sur 3") in html
    assert html.count('action="/center/orders/') == 1  # cancelled, or ending at period end: no Cancel
    assert 'src="https://example.org/l.png"' in html


@pytest.mark.parametrize("kind", ["one_time", "subscription", "payment_plan"])
def test_the_order_form_renders_each_kind_of_product(kind):
    product = {"id": "p", "name": "Thing", "kind": kind, "price": PRICE, "interval": None if kind == "one_time" else "month",
               "interval_count": 1, "installments": 3 if kind == "payment_plan" else None}
    html = _env.get_template("checkout.html").render(
        **base("en"), product=product, checkout_key="k", form={"first_name": "", "last_name": "", "email": ""}
    )
    expected = {"one_time": "once", "subscription": "every month", "payment_plan": "3 payments of $49.00, every month"}
    assert expected[kind] in html
    assert 'name="number"' not in html and 'data-card="number"' in html  # the number has no name: never posted here
