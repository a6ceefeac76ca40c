"""Every word the pages show, in English and French. A page's language: ``?lang=`` (remembered in a
cookie), else the site's ``language`` setting, else English."""

from services.gateway.web.catalogue import MESSAGES

LANGUAGES = tuple(MESSAGES)
DEFAULT = "en"
LANG_COOKIE = "cc_lang"


def choose_language(query_lang: str | None, cookie_lang: str | None, site_lang: str | None) -> str:
    for candidate in (query_lang, cookie_lang, site_lang):
        if candidate in MESSAGES:
            return candidate
    return DEFAULT


class Translator:
    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in MESSAGES else DEFAULT
        self._messages = MESSAGES[self.lang]

    def __call__(self, key: str, **values) -> str:
        text = self._messages.get(key) or MESSAGES[DEFAULT][key]
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in MESSAGES[DEFAULT]
