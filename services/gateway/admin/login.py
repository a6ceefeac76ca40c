"""Staff log in and out of the console. The password check, its throttling and the session are
auth's (``/internal/staff/*``); the gateway keeps the session's token in the ``cc_admin`` cookie."""

import json

from aiohttp import web

from services.gateway.admin.console import HOME, clear_cookie, console, render_console, set_cookie
from services.gateway.upstream import call
from services.gateway.web.common import ask, error_text, form_with_csrf, see_other
from services.gateway.web.sites import site as site_of
from shared.app import SETTINGS
from shared.logging import get_logger

log = get_logger("gateway.admin")
routes = web.RouteTableDef()


def _next(value: str | None) -> str:
    """Where to go after the login: a console page only (never another site, never the API)."""
    if value and value.startswith("/admin/") and not value.startswith(("/admin/api/", "/admin/login")) \
            and "\\" not in value and "//" not in value:
        return value
    return HOME


@routes.get("/admin")
async def console_home(request: web.Request) -> web.Response:
    return see_other(HOME)


@routes.get("/admin/login")
async def login_page(request: web.Request) -> web.Response:
    ref = request.query.get("site") or request.app[SETTINGS].default_site
    site = await site_of(request, ref)
    done = "logged_out" if request.query.get("done") == "logged_out" else None
    return await render_console(request, "login.html", staff=None, section=None, title_key="admin.login.title",
                                login_site=site, email="", next=_next(request.query.get("next")), done=done)


@routes.post("/admin/login")
async def login(request: web.Request) -> web.Response:
    form = await form_with_csrf(request)
    site = await site_of(request, form.get("site") or request.app[SETTINGS].default_site)
    answer = await ask(request, "auth", "POST", "/internal/staff/login", {
        "site_id": site["id"], "email": form.get("email", ""), "password": form.get("password", ""),
    })
    if not answer.ok:
        code = "staff_invalid_credentials" if answer.code in ("invalid_credentials", "validation_failed") else answer.code
        return await render_console(request, "login.html", status=answer.status, staff=None, section=None,
                                    title_key="admin.login.title", login_site=site, email=form.get("email", ""),
                                    next=_next(form.get("next")), error=error_text(request, None, code))
    response = see_other(_next(form.get("next")))
    set_cookie(response, request, answer.body["token"])
    log.info("admin.logged_in", staff_id=answer.body["staff"]["id"], role=answer.body["staff"]["role"])
    return response


@routes.post("/admin/logout")
@console
async def logout(request: web.Request, staff) -> web.Response:
    await form_with_csrf(request)
    await call(request, "auth", "POST", "/internal/staff/logout", json.dumps({"token": staff.token}).encode())
    site = await site_of(request, str(staff.site_id))
    response = see_other("/admin/login", site=site["slug"], done="logged_out")
    clear_cookie(response)
    return response
