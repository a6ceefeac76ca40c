"""Pure parts of the pages: every text in both languages, brand colours that stay readable, money."""

import re
from pathlib import Path

import pytest

from services.gateway.pages import money
from services.gateway.web.catalogue import MESSAGES
from services.gateway.web.i18n import Translator, choose_language
from services.gateway.web.theme import contrast, theme_css

TEMPLATES = Path(__file__).resolve().parents[3] / "services/gateway/templates"


def test_every_language_has_every_message_with_the_same_placeholders():
    english = MESSAGES["en"]
    for lang, messages in MESSAGES.items():
        assert set(messages) == set(english), lang
        for key, text in messages.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", english[key])), (lang, key)


def test_every_message_a_template_names_is_in_the_catalogue():
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""(?<![\w.])t\(["']([\w.]+)["']\s*[,)]""", template.read_text()))
    assert used and used <= set(MESSAGES["en"]), used - set(MESSAGES["en"])


def test_the_query_wins_over_the_cookie_over_the_site():
    assert choose_language("fr", "en", "en") == "fr"
    assert choose_language(None, "fr", "en") == "fr"
    assert choose_language("xx", None, "fr") == "fr"
    assert choose_language(None, None, None) == "en"
    assert Translator("fr")("center.hello", name="Ann") == "Bonjour Ann"


@pytest.mark.parametrize("colour", ["#fde047", "#ffffff", "#000000", "#1d4ed8", "#22c55e", "#e11d48", "#808080"])
def test_brand_colours_keep_text_readable(colour):
    css = theme_css({"primary_color": colour})
    values = dict(re.findall(r"--cc-([\w-]+):(#[0-9a-f]{6})", css, re.I))
    assert contrast(values["primary"], values["on-primary"]) >= 4.5
    assert contrast(values["link"], "#ffffff") >= 4.5


def test_a_colour_that_is_not_one_falls_back_to_the_default():
    assert "--cc-primary:#1d4ed8" in theme_css({"primary_color": "red;}body{display:none"})


def test_money_in_minor_units():
    assert money({"amount": 1900, "currency": "USD"}) == "$19.00"
    assert money({"amount": 123456, "currency": "EUR"}, "fr") == "1\u202f234,56\u00a0€"
    assert money({"amount": 500, "currency": "JPY"}) == "JPY 500"
