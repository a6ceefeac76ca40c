"""What every console page shares: the staff session, the role check, calling the services as the
staff member (the admin API's way, for their site only), rendering in the console's layout.

A staff session is auth's opaque token in its own cookie (``cc_admin``: HttpOnly, SameSite=Strict,
path ``/admin``). It is checked with auth on every console request, so a logout or an expired
session ends at once. A contact's tokens never open the console, and a staff token is never taken
as a contact's (it is not a JWT, and no customer route reads this cookie).
"""

import functools
import json
import re
from dataclasses import dataclass
from uuid import UUID

from aiohttp import web

from services.gateway.pages import add_filter, language, render
from services.gateway.upstream import call
from services.gateway.web.common import Answer, ask, error_text, see_other
from services.gateway.web.i18n import Translator
from services.gateway.web.session import cookies_secure
from services.gateway.web.sites import site as site_of
from shared.errors import Forbidden, ServiceError, ServiceUnavailable
from shared.identity import Actor, AdminSite
from shared.logging import get_logger

log = get_logger("gateway.admin")

COOKIE = "cc_admin"
COOKIE_PATH = "/admin"
STAFF = "cc_staff"  # the request's staff member, once known (the error page shows the layout with it)
HOME = "/admin/contacts"

# The console's sections: (key, path, owner only). The layout's navigation lists them in this order.
NAV = (
    ("contacts", "/admin/contacts", False),
    ("products", "/admin/products", True),
    ("programs", "/admin/programs", False),
    ("pages", "/admin/pages", False),
    ("rules", "/admin/rules", False),
    ("registration", "/admin/registration", False),
    ("settings", "/admin/settings", True),
    ("templates", "/admin/templates", False),
    ("sequences", "/admin/sequences", False),
    ("webhooks", "/admin/webhooks", False),
    ("api_keys", "/admin/api-keys", True),
    ("messages", "/admin/messages", False),
    ("deliveries", "/admin/deliveries", False),
    ("dead_letters", "/admin/dead-letters", False),
    ("audit", "/admin/audit", False),
)


@dataclass(frozen=True)
class Staff:
    id: UUID
    site_id: UUID
    email: str
    role: str
    token: str

    @property
    def admin(self) -> AdminSite:
        """The identity the services see for this staff member's calls (the admin API's, for their site)."""
        return AdminSite(site_id=self.site_id, actor=Actor(kind="staff", id=str(self.id), name=self.email, role=self.role))

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


class StaffForbidden(Forbidden):
    """A support member asked for something only an owner may do: a 403 page."""

    code = "staff_forbidden"
    message = "Only the site's owner can do this."


async def staff_of(request: web.Request) -> Staff | None:
    """The staff member of the ``cc_admin`` cookie's live session, or None."""
    token = request.cookies.get(COOKIE, "")
    if not token.startswith("cc_staff_") or len(token) > 200:
        return None
    status, payload, _ = await call(request, "auth", "POST", "/internal/staff/session", json.dumps({"token": token}).encode())
    if status >= 500:
        log.warning("admin.session_check_failed", status=status)
        raise ServiceUnavailable("The auth service is unavailable.", details={"service": "auth"})
    if status != 200:
        return None
    member = json.loads(payload)["staff"]
    staff = Staff(id=UUID(member["id"]), site_id=UUID(member["site_id"]), email=member["email"], role=member["role"], token=token)
    request[STAFF] = staff
    return staff


def require_owner(staff: Staff) -> None:
    """The role check: support staff cannot change site settings, products or API keys (403 page)."""
    if not staff.is_owner:
        log.info("admin.forbidden", staff_id=str(staff.id), role=staff.role)
        raise StaffForbidden()


def console(view=None, *, owner_only: bool = False):
    """A console page or action: ``async def view(request, staff)``. Without a live staff session:
    303 to ``/admin/login`` (coming back here afterwards); ``owner_only``: 403 page for support."""

    def decorate(view):
        @functools.wraps(view)
        async def page(request: web.Request) -> web.StreamResponse:
            staff = await staff_of(request)
            if staff is None:
                back = request.path_qs if request.method == "GET" else HOME
                response = see_other("/admin/login", next=back)
                clear_cookie(response)
                return response
            if owner_only:
                require_owner(staff)
            return await view(request, staff)

        return page

    return decorate(view) if view is not None else decorate


async def ask_as(request: web.Request, staff: Staff, service: str, method: str, path: str,
                 body: dict | None = None) -> Answer:
    """Call a service's admin API as this staff member (their site, their name in the audit log)."""
    return await ask(request, service, method, path, body, staff.admin.headers())


async def console_site(request: web.Request, staff: Staff | None) -> dict | None:
    if staff is None:
        return None
    try:
        return await site_of(request, str(staff.site_id))
    except ServiceError:
        return None


async def render_console(request: web.Request, template: str, *, staff: Staff | None, section: str | None,
                         title_key: str, status: int = 200, **context) -> web.Response:
    """A page in the console's layout (``templates/admin/layout.html``): navigation for this staff
    member's role, the site's name, logout; every text from the catalogue."""
    return render(request, f"admin/{template}", status=status, title_key=title_key, staff=staff, section=section,
                  nav=[(key, path) for key, path, owner_only in NAV if staff is None or staff.is_owner or not owner_only],
                  console_site=await console_site(request, staff), **context)


def refusal(answer: Answer) -> dict[str, str]:
    """A service's refusal as the query of the page to go back to: ``error`` (a catalogue code) and,
    for a 422, the fields it names, so the page says what to correct."""
    query = {"error": answer.code or "generic"}
    fields = ((answer.body.get("error") or {}).get("details") or {}).get("fields") if isinstance(answer.body, dict) else None
    if isinstance(fields, dict) and fields:
        query["fields"] = ",".join(sorted(fields))[:200]
    return query


def flash(request: web.Request, query=None) -> dict:
    """What the page says after a form (``?done=`` / ``?error=`` and ``fields=``), from the catalogue."""
    query = request.query if query is None else query
    t = Translator(language(request, None))
    done, code = query.get("done"), query.get("error")
    error = None
    if code:
        error = error_text(request, None, code)
        names = [n for n in re.split(r"[^\w.-]+", query.get("fields", "")) if n][:10]
        if names:
            error += " " + t("admin.fields", names=", ".join(names))
    return {"done": done if done and t.has(f"done.{done}") else None, "error": error}


def set_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    response.set_cookie(COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="Strict", secure=cookies_secure(request))


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path=COOKIE_PATH)


async def render_error(request: web.Request, status: int, error: str) -> web.Response:
    """A refusal on a console page (403 for support staff, 404, an expired form...) as a page."""
    return await render_console(request, "error.html", status=status, staff=request.get(STAFF), section=None,
                                title_key="error.title", error=error)


def _shown(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_changes(before: dict | None, after: dict | None) -> list[tuple[str, str, str]]:
    """An audit entry's change, field by field: (name, before, after) for each field that differs."""
    before, after = before or {}, after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", _shown(before), _shown(after))]
    return [(k, _shown(before.get(k)), _shown(after.get(k))) for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)]


add_filter("audit_changes", audit_changes)
