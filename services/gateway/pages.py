"""Server-rendered pages (Jinja2, autoescaped) in the site's language, colours and logo, and the
security headers of every response.

A page's scripts are static files (``/static/``); its only inline element is the theme's ``<style>``,
allowed by a per-response nonce. CSP: nothing inline runs, forms post only here, no framing.
"""

import secrets
from pathlib import Path

import jinja2
from aiohttp import web

from services.gateway.web.i18n import LANG_COOKIE, LANGUAGES, Translator, choose_language
from services.gateway.web.session import CSRF_FIELD, csrf_token
from services.gateway.web.theme import theme_css
from shared.app import SETTINGS

STATIC = Path(__file__).parent / "static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
NONCE = "cc_csp_nonce"
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$"}
_EXPONENT = {"JPY": 0, "KRW": 0}


def money(value: dict, lang: str = "en") -> str:
    """``{"amount": 1900, "currency": "USD"}`` → ``$19.00`` (``19,00 $`` in French)."""
    digits = _EXPONENT.get(value["currency"], 2)
    number = f"{value['amount'] / 10 ** digits:,.{digits}f}" if digits else f"{value['amount']:,}"
    symbol = _SYMBOLS.get(value["currency"], value["currency"] + " ")
    if lang == "fr":
        return number.replace(",", "\u202f").replace(".", ",") + "\u00a0" + symbol.strip()
    return symbol + number


def day(value: str | None) -> str:
    return (value or "")[:10]


_env.filters["money"] = money
_env.filters["day"] = day


def add_filter(name: str, function) -> None:
    """A filter the templates may use (the admin console adds its own)."""
    _env.filters[name] = function


def language(request: web.Request, site: dict | None) -> str:
    return choose_language(request.query.get("lang"), request.cookies.get(LANG_COOKIE), (site or {}).get("language"))


def render(
    request: web.Request, name: str, *, status: int = 200, site: dict | None = None, title_key: str, **context
) -> web.Response:
    """A page: ``title_key`` and every text come from the catalogue in the page's language."""
    lang = language(request, site)
    t = Translator(lang)
    nonce = request.setdefault(NONCE, secrets.token_urlsafe(16))
    html = _env.get_template(name).render(
        t=t, lang=lang, languages=LANGUAGES, site=site, theme_css=theme_css((site or {}).get("theme") or {}),
        nonce=nonce, csrf_field=CSRF_FIELD, csrf=csrf_token(request), path=request.path,
        keep_query=[(k, v) for k, v in request.query.items() if k in ("site", "token")],
        done=context.pop("done", None), error=context.pop("error", None),
        title=t(title_key, **context.pop("title_values", {})), **context,
    )
    response = web.Response(text=html, status=status, content_type="text/html")
    response.headers["Cache-Control"] = "no-store"
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.query["lang"], path="/", max_age=365 * 24 * 3600, samesite="Lax")
    return response


def _csp(nonce: str | None) -> str:
    style = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    return (
        "default-src 'self'; script-src 'self'; "
        f"style-src {style}; img-src 'self' https: data:; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", _csp(request.get(NONCE)))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Pages carry tokens in their URL: never leak them to another site. (Not "no-referrer": with it
    # browsers send "Origin: null" on our own form posts, and the CSRF check wants to see our origin.)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    settings = request.app[SETTINGS]
    if request.secure or settings.cookie_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
