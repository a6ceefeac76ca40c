"""The console's set-up pages: products, programs and levels, protected pages, rules, registration,
site settings and API keys. Each page lists what the site has and offers a form per action; an action
calls the admin API as the staff member (so the service writes the audit entry), then goes back to
the page saying what it did, or shows the page again with the service's reason. Products, site
settings and API keys are the owner's (support staff get the 403 page)."""

from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from aiohttp import web

from services.gateway.admin.console import Staff, ask_as, console, render_console
from services.gateway.admin.forms import act, problem, words
from services.gateway.identity import API_KEYS
from services.gateway.pages import language
from services.gateway.web.common import Answer, form_with_csrf, see_other
from services.gateway.web.i18n import Translator
from shared.errors import ServiceUnavailable

routes = web.RouteTableDef()


def done_of(request: web.Request) -> str | None:
    done = request.query.get("done", "")
    return done if done and Translator("en").has(f"done.{done}") else None


def need(answer: Answer, service: str) -> dict:
    """A page's data: a service that cannot answer makes the page say so (503 page)."""
    if not answer.ok:
        raise ServiceUnavailable(f"The {service} service could not answer.", details={"service": service})
    return answer.body


async def page(request: web.Request, staff: Staff, page_name: str, section: str, *, status: int = 200,
               error: str | None = None, form: dict | None = None, **context) -> web.Response:
    return await render_console(request, f"{page_name}.html", staff=staff, section=section,
                                title_key=f"admin.nav.{section}", status=status, error=error,
                                done=None if error else done_of(request), form=form or {}, **context)


# --- products (owner) --------------------------------------------------------------------------------


async def _products(request: web.Request, staff: Staff, **kw) -> web.Response:
    products = need(await ask_as(request, staff, "billing", "GET", "/admin/api/products?limit=200"), "billing")
    return await page(request, staff, "products", "products", products=products["products"], **kw)


@routes.get("/admin/products")
@console(owner_only=True)
async def products_page(request: web.Request, staff: Staff) -> web.Response:
    return await _products(request, staff)


@routes.post("/admin/products")
@console(owner_only=True)
async def create_product(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    t = Translator(language(request, None))
    try:
        amount = Decimal(form.get("price", "").strip()) * 100
        if amount != amount.to_integral_value():
            raise InvalidOperation
    except InvalidOperation:
        return await _products(request, staff, status=422, form=form, error=t("admin.products.bad_price"))
    kind = form.get("kind", "")
    body = {"name": form.get("name", ""), "kind": kind,
            "price": {"amount": int(amount), "currency": form.get("currency", "USD").upper()}}
    if kind in ("subscription", "payment_plan"):
        body["interval"] = form.get("interval") or None
        if kind == "subscription" and form.get("interval_count", "").strip():
            body["interval_count"] = _int(form["interval_count"])
        if kind == "payment_plan":
            body["installments"] = _int(form.get("installments", ""))
    return await act(request, staff, "billing", "POST", "/admin/api/products", body, back="/admin/products",
                     done="product_created", again=lambda **kw: _products(request, staff, form=form, **kw))


def _int(value: str):
    try:
        return int(value.strip())
    except ValueError:
        return value  # the service names the field


# --- programs and levels ------------------------------------------------------------------------------


async def _programs(request: web.Request, staff: Staff, **kw) -> web.Response:
    programs = need(await ask_as(request, staff, "membership", "GET", "/admin/api/programs"), "membership")
    return await page(request, staff, "programs", "programs", programs=programs["items"], **kw)


@routes.get("/admin/programs")
@console
async def programs_page(request: web.Request, staff: Staff) -> web.Response:
    return await _programs(request, staff)


@routes.post("/admin/programs")
@console
async def create_program(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    return await act(request, staff, "membership", "POST", "/admin/api/programs", {"name": form.get("name", "")},
                     back="/admin/programs", done="program_created",
                     again=lambda **kw: _programs(request, staff, form=form, **kw))


@routes.post("/admin/levels")
@console
async def create_level(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    body = {"program_id": form.get("program_id", ""), "name": form.get("level_name", "")}
    return await act(request, staff, "membership", "POST", "/admin/api/levels", body, back="/admin/programs",
                     done="level_created", again=lambda **kw: _programs(request, staff, form=form, **kw))


# --- protected pages -------------------------------------------------------------------------------


async def _levels(request: web.Request, staff: Staff) -> list[dict]:
    return need(await ask_as(request, staff, "membership", "GET", "/admin/api/levels"), "membership")["items"]


async def _pages(request: web.Request, staff: Staff, **kw) -> web.Response:
    pages = need(await ask_as(request, staff, "membership", "GET", "/admin/api/pages"), "membership")
    return await page(request, staff, "pages", "pages", pages=pages["items"],
                      levels=await _levels(request, staff), **kw)


@routes.get("/admin/pages")
@console
async def pages_page(request: web.Request, staff: Staff) -> web.Response:
    return await _pages(request, staff)


@routes.post("/admin/pages")
@console
async def create_page(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    level_ids = (await request.post()).getall("level_ids", [])
    body = {"path": form.get("path", ""), "title": form.get("title", ""), "level_ids": level_ids}
    return await act(request, staff, "membership", "POST", "/admin/api/pages", body, back="/admin/pages",
                     done="page_created", again=lambda **kw: _pages(request, staff, form=form, **kw))


# --- rules ---------------------------------------------------------------------------------------------


async def _rules(request: web.Request, staff: Staff, **kw) -> web.Response:
    rules = need(await ask_as(request, staff, "membership", "GET", "/admin/api/rules"), "membership")
    products = need(await ask_as(request, staff, "billing", "GET", "/admin/api/products?limit=200"), "billing")
    names = {p["id"]: p["name"] for p in products["products"]}
    return await page(request, staff, "rules", "rules", rules=rules["items"], products=products["products"],
                      product_names=names, levels=await _levels(request, staff), **kw)


@routes.get("/admin/rules")
@console
async def rules_page(request: web.Request, staff: Staff) -> web.Response:
    return await _rules(request, staff)


@routes.post("/admin/rules")
@console
async def create_rule(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    body = {"product_id": form.get("product_id", ""), "level_id": form.get("level_id", "")}
    return await act(request, staff, "membership", "POST", "/admin/api/rules", body, back="/admin/rules",
                     done="rule_created", again=lambda **kw: _rules(request, staff, form=form, **kw))


# --- registration defaults ---------------------------------------------------------------------------


async def _site(request: web.Request, staff: Staff) -> dict:
    return need(await ask_as(request, staff, "membership", "GET", "/admin/api/site"), "membership")


async def _registration(request: web.Request, staff: Staff, **kw) -> web.Response:
    return await page(request, staff, "registration", "registration", site_settings=await _site(request, staff),
                      levels=await _levels(request, staff), **kw)


@routes.get("/admin/registration")
@console
async def registration_page(request: web.Request, staff: Staff) -> web.Response:
    return await _registration(request, staff)


@routes.post("/admin/registration")
@console
async def save_registration(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    body = {
        "registration_open": form.get("registration_open") == "on",
        "registration_defaults": {"level_id": form.get("level_id") or None, "tags": words(form.get("tags", "")),
                                  "sequences": [s.strip() for s in form.get("sequences", "").splitlines() if s.strip()]},
    }
    return await act(request, staff, "membership", "PATCH", "/admin/api/site", body, back="/admin/registration",
                     done="saved", again=lambda **kw: _registration(request, staff, form=form, **kw))


# --- site settings (owner) -----------------------------------------------------------------------------


async def _settings(request: web.Request, staff: Staff, **kw) -> web.Response:
    return await page(request, staff, "settings", "settings", site_settings=await _site(request, staff), **kw)


@routes.get("/admin/settings")
@console(owner_only=True)
async def settings_page(request: web.Request, staff: Staff) -> web.Response:
    return await _settings(request, staff)


@routes.post("/admin/settings")
@console(owner_only=True)
async def save_settings(request: web.Request, staff: Staff) -> web.Response:
    """One PATCH: the service refuses a post-login page some members could not open, naming their levels."""
    form = await form_with_csrf(request)
    theme = {"primary_color": form.get("primary_color") or None, "logo_url": form.get("logo_url", "").strip() or None}
    body = {
        "customer_center_enabled": form.get("customer_center_enabled") == "on",
        "post_login_redirect": form.get("post_login_redirect", "").strip() or "customer_center",
        "embed_origins": words(form.get("embed_origins", "")),
        "cancellation_fields": {k: form.get(f"cancel_{k}", "").strip() or None for k in ("who", "when", "reason")},
        "language": form.get("language", "en"),
        "theme": theme,
    }
    return await act(request, staff, "membership", "PATCH", "/admin/api/site", body, back="/admin/settings",
                     done="saved", again=lambda **kw: _settings(request, staff, form=form, **kw))


# --- API keys (owner) -------------------------------------------------------------------------------


async def _keys(request: web.Request, staff: Staff, **kw) -> web.Response:
    keys = need(await ask_as(request, staff, "membership", "GET", "/admin/api/api-keys"), "membership")
    return await page(request, staff, "api_keys", "api_keys", keys=keys["api_keys"], **kw)


@routes.get("/admin/api-keys")
@console(owner_only=True)
async def keys_page(request: web.Request, staff: Staff) -> web.Response:
    return await _keys(request, staff)


@routes.post("/admin/api-keys")
@console(owner_only=True)
async def create_key(request: web.Request, staff: Staff) -> web.Response:
    """The new key is shown on this answer's page only (never in a URL, never again)."""
    form = await form_with_csrf(request)
    answer = await ask_as(request, staff, "membership", "POST", "/admin/api/api-keys", {"label": form.get("label", "")})
    if not answer.ok:
        return await _keys(request, staff, status=answer.status, form=form, error=problem(request, answer))
    return await _keys(request, staff, created=answer.body)


@routes.post("/admin/api-keys/{key_id}/revoke")
@console(owner_only=True)
async def revoke_key(request: web.Request, staff: Staff) -> web.Response:
    await form_with_csrf(request)
    key_id = request.match_info["key_id"]
    answer = await ask_as(request, staff, "membership", "DELETE", f"/admin/api/api-keys/{quote(key_id, safe='')}")
    if answer.ok:
        request.app[API_KEYS].clear()  # refused at once by this gateway
        return see_other("/admin/api-keys", done="key_revoked")
    return await _keys(request, staff, status=answer.status, error=problem(request, answer))
