"""Access answers: why a contact can or cannot open a page or log in, where they land, and the fast
per-page-view check the gateway asks."""

from datetime import datetime, timezone
from uuid import UUID

from aiohttp import web

from services.membership import access
from services.membership import repository as repo
from services.membership.domain import CUSTOMER_CENTER, Site
from services.membership.http.common import connection, path_id, query_time
from services.membership.schemas import AccessOut, LevelHeld, LoginOut, ReasonOut
from shared.client import ask
from shared.errors import InvalidRequest, NotFound, ServiceUnavailable
from shared.http import json_response
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("membership.access")
routes = web.RouteTableDef()


def _page(request: web.Request, default: str | None = None) -> str:
    page = request.query.get("page") or default
    if not page or not page.startswith("/") or len(page) > 500:
        raise InvalidRequest(details={"fields": {"page": "expected a page path such as /members"}})
    return page


async def login_state(request: web.Request, site_id: UUID, contact_id: UUID) -> access.LoginState:
    """Auth's answer about the contact's login; unknown (never an error) when auth cannot say."""
    try:
        status, body = await ask(
            request.app, "auth", "GET", f"/internal/sites/{site_id}/contacts/{contact_id}/login", timeout=2.0
        )
    except ServiceUnavailable:
        return access.LoginState(known=False)
    if status != 200 or not isinstance(body, dict):
        log.info("access.login_state_unknown", status=status)
        return access.LoginState(known=False)
    locked = body.get("locked_until")
    try:
        locked_until = datetime.fromisoformat(locked.replace("Z", "+00:00")) if locked else None
    except (AttributeError, ValueError):
        locked_until = None
    return access.LoginState(
        known=True,
        has_login=bool(body.get("has_login")),
        password_set=bool(body.get("password_set")),
        username=body.get("username"),
        locked_until=locked_until,
    )


async def _redirect_levels(conn, site: Site):
    if site.post_login_redirect == CUSTOMER_CENTER:
        return None
    return await repo.page_levels(conn, site.id, site.post_login_redirect)


@routes.get("/admin/api/contacts/{contact_id}/access")
async def explain_access(request: web.Request) -> web.Response:
    """``?page=/path`` (default: the site's post-login page) ``&as_of=`` (default: now)."""
    site_id = admin_site_of(request).site_id
    contact_id = path_id(request, "contact_id")
    now = datetime.now(timezone.utc)
    as_of = query_time(request, "as_of") or now
    async with connection(request) as conn:
        contact = await repo.contact(conn, site_id, contact_id)
        if contact is None:
            raise NotFound("No such contact.")
        site = await repo.site_by_id(conn, site_id)
        page = _page(request, site.redirect_path)
        grants = await repo.grants_of_contact(conn, contact_id)
        page_levels = await repo.page_levels(conn, site_id, page)
        redirect_levels = await _redirect_levels(conn, site)
    login = await login_state(request, site_id, contact_id)
    answer = access.explain(
        site=site,
        page=page,
        page_levels=page_levels,
        redirect_page_levels=redirect_levels,
        grants=grants,
        login=login,
        as_of=as_of,
        now=now,
    )
    return json_response(
        AccessOut(
            allowed=answer.allowed,
            page=page,
            as_of=as_of,
            reasons=[ReasonOut(code=r.code, message=r.message, details=r.details) for r in answer.reasons],
            can_log_in=answer.can_log_in,
            lands_on=answer.landing.redirect,
            landing_reason=ReasonOut(code=answer.landing.reason, message=answer.landing.message),
            login=LoginOut(
                state="known" if login.known else "unknown",
                **(
                    dict(
                        has_login=login.has_login,
                        password_set=login.password_set,
                        username=login.username,
                        locked_until=login.locked_until,
                    )
                    if login.known
                    else {}
                ),
            ),
            levels=[
                LevelHeld(
                    grant_id=g.id,
                    level=g.level_name,
                    program=g.program_name,
                    source=g.source,
                    starts_at=g.starts_at,
                    ends_at=g.ends_at,
                    ended_reason=g.ended_reason,
                    active=g.active(as_of),
                )
                for g in grants
            ],
            page_levels=None if page_levels is None else [p.level_name for p in page_levels],
        )
    )


def _site_and_contact(request: web.Request) -> tuple[UUID, UUID]:
    return path_id(request, "site_id"), path_id(request, "contact_id")


@routes.get("/internal/sites/{site_id}/contacts/{contact_id}/landing")
async def landing(request: web.Request) -> web.Response:
    """For auth's login answer: the post-login page if the contact may open it, else /center and why."""
    site_id, contact_id = _site_and_contact(request)
    now = datetime.now(timezone.utc)
    async with connection(request) as conn:
        site = await repo.site_by_id(conn, site_id)
        if site is None or await repo.contact(conn, site_id, contact_id) is None:
            raise NotFound("No such contact.")
        may_open = True
        if site.post_login_redirect != CUSTOMER_CENTER:
            row = await repo.can_open(conn, site_id, contact_id, site.post_login_redirect, now)
            may_open = row["allowed"] or not row["protected"]
    where = access.landing(site, may_open)
    if where.reason != "post_login_page":
        log.info("landing.customer_center", contact_id=str(contact_id), reason=where.reason)
    return web.json_response({"redirect": where.redirect, "reason": where.reason, "message": where.message})


@routes.get("/internal/sites/{site_id}/contacts/{contact_id}/can-open")
async def can_open(request: web.Request) -> web.Response:
    """The gateway's check per protected page view: one indexed query. Unprotected paths are open."""
    site_id, contact_id = _site_and_contact(request)
    page = _page(request)
    async with connection(request) as conn:
        row = await repo.can_open(conn, site_id, contact_id, page, datetime.now(timezone.utc))
    return web.json_response({"page": page, "protected": row["protected"], "allowed": row["allowed"] or not row["protected"]})
