"""The Customer Center: every section on one page (``/center``), or one alone (``/center/invoices``,
``/payments``, ``/orders``, ``/cards``, ``/account``) so each can be linked to (and later embedded) on
its own. The services are asked concurrently; a section whose service is down says so and the rest
of the page still shows. Each action is a form (CSRF-checked) that answers with a redirect back to
its section, saying what happened."""

import asyncio
from uuid import UUID

from aiohttp import web

from services.gateway.identity import authenticate_contact
from services.gateway.pages import language, render
from services.gateway.upstream import call
from services.gateway.web.common import Answer, ask, error_text, form_with_csrf, see_other
from services.gateway.web.i18n import Translator
from services.gateway.web.session import SITE_COOKIE, clear_session
from services.gateway.web.sites import site as site_of
from shared.errors import NotFound, ServiceError, ServiceUnavailable, Unauthorized
from shared.identity import Contact
from shared.logging import get_logger

log = get_logger("gateway.center")
routes = web.RouteTableDef()

SECTIONS = ("invoices", "payments", "orders", "cards", "account")
# What each section needs: (name, service, path). Cards are needed by invoices (pay with which card).
NEEDS = {
    "invoices": ("invoices", "cards"),
    "payments": ("payments",),
    "orders": ("orders",),
    "cards": ("cards",),
    "account": ("login",),
}


def _sources(contact: Contact) -> dict[str, tuple[str, str]]:
    return {
        "me": ("membership", "/api/me"),
        "invoices": ("billing", "/api/invoices?status=unpaid&limit=50"),
        "payments": ("billing", "/api/payments?limit=50"),
        "orders": ("billing", "/api/orders?limit=50"),
        "cards": ("billing", "/api/cards"),
        "login": ("auth", f"/internal/sites/{contact.site_id}/contacts/{contact.contact_id}/login"),
    }


async def _contact_or_login(request: web.Request) -> Contact | web.Response:
    try:
        return await authenticate_contact(request)
    except Unauthorized:
        site = request.cookies.get(SITE_COOKIE) or request.query.get("site")
        # An embedded Center's host look (the snippet's theme_* parameters) goes along to the login.
        look = {k: v for k, v in request.query.items() if k.startswith("theme_")}
        response = see_other("/login", **({"site": site} if site else {}), **look)
        clear_session(response, request)
        return response


async def _fetch(request: web.Request, contact: Contact, wanted: set[str]) -> dict[str, dict | None]:
    """Each source's answer, or None when its service could not answer (the page shows what it can)."""
    sources = _sources(contact)

    async def one(name: str) -> dict | None:
        service, path = sources[name]
        try:
            status, payload, _ = await asyncio.wait_for(
                call(request, service, "GET", path, identity=contact.headers()), timeout=5
            )
        except (ServiceUnavailable, asyncio.TimeoutError):
            return None
        answer = Answer(status, payload)
        if not answer.ok:
            log.warning("center.source_failed", source=name, status=status)
            return None
        return answer.body

    names = sorted(wanted)
    return dict(zip(names, await asyncio.gather(*(one(n) for n in names))))


async def _page(request: web.Request, sections: tuple[str, ...]) -> web.Response:
    contact = await _contact_or_login(request)
    if isinstance(contact, web.Response):
        return contact
    try:
        site = await site_of(request, str(contact.site_id))
    except ServiceError:
        site = None
    if site is not None and not site.get("customer_center_enabled", True):
        return render(request, "center/page.html", status=403, site=site, title_key="center.title", me=None,
                      sections=(), all_sections=(), data={}, cards=[], account={},
                      error=Translator(language(request, site))("center.disabled"))
    wanted = {"me"} | {need for s in sections for need in NEEDS[s]}
    answers = await _fetch(request, contact, wanted)
    cards = (answers.get("cards") or {}).get("cards") or []
    data = {
        "invoices": (answers["invoices"] or {}).get("invoices") if answers.get("invoices") is not None else None,
        "payments": (answers["payments"] or {}).get("payments") if answers.get("payments") is not None else None,
        "orders": (answers["orders"] or {}).get("orders") if answers.get("orders") is not None else None,
        "cards": cards if answers.get("cards") is not None else None,
        "account": answers.get("login"),
    }
    done = request.query.get("done")
    t = Translator("en")
    error_code = request.query.get("error")
    return render(
        request, "center/page.html", site=site, title_key="center.title", me=answers.get("me"),
        sections=sections, all_sections=SECTIONS, data=data, cards=cards, account=answers.get("login") or {},
        done=done if done and t.has(f"done.{done}") else None,
        error=error_text(request, site, error_code) if error_code else None,
    )


@routes.get("/center")
async def center(request: web.Request) -> web.Response:
    return await _page(request, SECTIONS)


for _name in SECTIONS:
    def _view(name: str):
        async def section(request: web.Request) -> web.Response:
            return await _page(request, (name,))
        section.__name__ = f"center_{name}"
        return section

    routes.get(f"/center/{_name}")(_view(_name))


# The receipt's print button (onclick="window.print()") is the one script it may run.
PRINT_HANDLER = "sha256-MguIPR6qNR8D3B+eAlK+bIRTZe8t3wkOY4B/56Me9FU="


@routes.get("/center/receipts/{id}")
async def receipt(request: web.Request) -> web.Response:
    """Billing's printable receipt, as it renders it (its own inline style; no script may run)."""
    contact = await _contact_or_login(request)
    if isinstance(contact, web.Response):
        return contact
    status, payload, headers = await call(
        request, "billing", "GET", f"/api/payments/{request.match_info['id']}/receipt", identity=contact.headers()
    )
    if status != 200:
        raise NotFound("No such payment.")
    response = web.Response(body=payload, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https:; base-uri 'none'; form-action 'none';"
        f" frame-ancestors 'none'; script-src 'unsafe-hashes' '{PRINT_HANDLER}'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


# --- actions: (path, service, method, upstream path, body from the form, section, done) ---------


async def _act(request: web.Request, section: str, service: str, method: str, path: str, body: dict | None,
               done: str, invalid: str | None = None) -> web.Response:
    """``invalid``: what a 422 means to the person on this form (else the service's code)."""
    contact = await _contact_or_login(request)
    if isinstance(contact, web.Response):
        return contact
    answer = await ask(request, service, method, path, body, contact.headers())
    if answer.ok:
        return see_other(f"/center/{section}", done=done)
    log.info("center.action_refused", section=section, status=answer.status, code=answer.code)
    code = invalid if invalid and answer.status == 422 else answer.code
    return see_other(f"/center/{section}", error=code or "generic")


def _id(request: web.Request) -> str:
    try:
        return str(UUID(request.match_info["id"]))
    except ValueError:
        raise NotFound() from None


@routes.post("/center/invoices/{id}/pay")
async def pay_invoice(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    return await _act(request, "invoices", "billing", "POST", f"/api/invoices/{_id(request)}/pay",
                      {"card_id": form.get("card_id", "")}, "paid")


@routes.post("/center/orders/{id}/cancel")
async def cancel_order(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    at = form.get("at") if form.get("at") in ("period_end", "now") else "period_end"
    return await _act(request, "orders", "billing", "POST", f"/api/orders/{_id(request)}/cancel",
                      {"reason": form.get("reason", "").strip(), "at": at}, "cancelled")


@routes.post("/center/cards")
async def add_card(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    return await _act(request, "cards", "billing", "POST", "/api/cards", {"token": form.get("token", "")}, "card_added")


@routes.post("/center/cards/{id}/use-for-all")
async def use_card(request: web.Request) -> web.Response:
    await form_with_csrf(request)
    return await _act(request, "cards", "billing", "POST", f"/api/cards/{_id(request)}/use-for-all", {}, "card_used")


@routes.post("/center/cards/{id}/remove")
async def remove_card(request: web.Request) -> web.Response:
    await form_with_csrf(request)
    return await _act(request, "cards", "billing", "DELETE", f"/api/cards/{_id(request)}", None, "card_removed")


@routes.post("/center/account/username")
async def change_username(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    return await _act(request, "account", "auth", "PUT", "/api/account/username", {
        "new_username": form.get("new_username", ""), "current_password": form.get("current_password", ""),
    }, "username_changed")


@routes.post("/center/account/password")
async def change_password(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    if form.get("new_password", "") != form.get("confirm_password", ""):
        return see_other("/center/account", error="password_mismatch")
    return await _act(request, "account", "auth", "PUT", "/api/account/password", {
        "current_password": form.get("current_password", ""), "new_password": form.get("new_password", ""),
    }, "password_changed", invalid="weak_password")
