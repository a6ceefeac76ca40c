"""What the page views share: calling a service for a page, reading its error, the form's CSRF check."""

import json
from urllib.parse import urlencode

from aiohttp import web

from services.gateway.pages import language, render
from services.gateway.upstream import call
from services.gateway.web.i18n import Translator
from services.gateway.web.session import CSRF_FIELD, check_csrf
from shared.errors import ServiceError

API_PREFIXES = ("/api/", "/admin/api/", "/internal/", "/sandbox/", "/.well-known/", "/static/", "/healthz", "/readyz", "/metrics")


class Answer:
    """A service's answer to a page's call: status, JSON body, and its error code when it failed."""

    def __init__(self, status: int, payload: bytes) -> None:
        self.status = status
        try:
            self.body = json.loads(payload or b"{}")
        except ValueError:
            self.body = {}
        error = self.body.get("error") if isinstance(self.body, dict) else None
        self.code = (error or {}).get("code") if not self.ok else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


async def ask(request: web.Request, service: str, method: str, path: str, body: dict | None = None,
              identity: dict | None = None) -> Answer:
    data = json.dumps(body).encode() if body is not None else None
    status, payload, _ = await call(request, service, method, path, data, identity)
    return Answer(status, payload)


def error_text(request: web.Request, site: dict | None, code: str | None) -> str:
    t = Translator(language(request, site))
    key = f"error.{code}"
    return t(key) if code and t.has(key) else t("error.generic")


async def form_with_csrf(request: web.Request) -> dict[str, str]:
    """The posted form, once its CSRF token and origin are checked (403 otherwise)."""
    try:
        form = await request.post()
    except ValueError:  # a body that is no form of its kind (multipart without a boundary...): 400, not 500
        raise ServiceError("The form could not be read.") from None
    check_csrf(request, str(form.get(CSRF_FIELD, "")))
    return {k: str(v) for k, v in form.items() if isinstance(v, str)}


def see_other(path: str, **query: str) -> web.Response:
    """303 to one of our own paths (never to another site)."""
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        path = "/center"
    location = path + (("&" if "?" in path else "?") + urlencode(query) if query else "")
    return web.Response(status=303, headers={"Location": location})


@web.middleware
async def page_errors(request: web.Request, handler):
    """A page's refusal (an expired form, an unknown site or product, a service down) as a page in the
    person's language; the APIs keep their JSON errors."""
    try:
        return await handler(request)
    except ServiceError as exc:
        if request.path.startswith(API_PREFIXES):
            raise
        error = error_text(request, None, "csrf" if exc.code == "csrf_failed" else exc.code)
        if request.path == "/admin" or request.path.startswith("/admin/"):
            from services.gateway.admin.console import render_error  # the console's layout, its navigation

            return await render_error(request, exc.status, error)
        return render(request, "error.html", status=exc.status, title_key="error.title", error=error)
