"""Admin: the site's settings."""

import uuid

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import CANCELLATION_FACTS, CANCELLED_BY, CUSTOMER_CENTER, Site, UnknownLevel, check_redirect
from services.membership.http.common import connection, work
from services.membership.schemas import CancellationFields, RegistrationDefaults, SiteOut, SitePatch
from shared import audit
from shared.errors import NotFound
from shared.http import json_response, read_body
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("membership.site")
routes = web.RouteTableDef()


def site_out(site: Site) -> SiteOut:
    return SiteOut(
        id=site.id,
        slug=site.slug,
        name=site.name,
        registration_open=site.registration_open,
        customer_center_enabled=site.customer_center_enabled,
        post_login_redirect=site.post_login_redirect,
        registration_defaults=RegistrationDefaults(
            level_id=site.default_level_id, tags=site.registration_tags, sequences=site.registration_sequences
        ),
        embed_origins=site.embed_origins,
        cancellation_fields=CancellationFields(**site.cancellation_fields),
        language=site.language,
        theme=site.theme,
    )


@routes.get("/admin/api/site")
async def get_site(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with connection(request) as conn:
        site = await repo.site_by_id(conn, site_id)
    if site is None:
        raise NotFound()
    return json_response(site_out(site))


@routes.patch("/admin/api/site")
async def patch_site(request: web.Request) -> web.Response:
    """Changes the given settings. A post-login page some level able to log in could not open: 422."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, SitePatch)
    changes: dict = {}
    for name in ("customer_center_enabled", "post_login_redirect", "registration_open", "embed_origins"):
        if getattr(body, name) is not None:
            changes[name] = getattr(body, name)
    if body.language is not None:
        changes["language"] = body.language
    if body.theme is not None:
        changes["theme"] = body.theme.model_dump(exclude_none=True)
    if "embed_origins" in changes:
        changes["embed_origins"] = list(dict.fromkeys(changes["embed_origins"]))
    async with work(request) as uow:
        conn = uow.conn
        before = await repo.site_by_id(conn, site_id)
        defaults = body.registration_defaults
        if defaults is not None:
            given = defaults.model_fields_set
            if "level_id" in given:
                if defaults.level_id is not None and await repo.level_of_site(conn, site_id, defaults.level_id) is None:
                    raise UnknownLevel(details={"fields": {"registration_defaults.level_id": "no such level on this site"}})
                changes["default_level_id"] = defaults.level_id
            if "tags" in given:
                changes["registration_tags"] = list(dict.fromkeys(defaults.tags))
            if "sequences" in given:
                changes["registration_sequences"] = list(dict.fromkeys(defaults.sequences))
        if body.cancellation_fields is not None:
            names = body.cancellation_fields.model_dump(exclude_none=True)
            changes["cancellation_fields"] = names
            existing = await repo.field_definitions(conn, site_id)
            for fact, name in names.items():
                if name not in existing:
                    kind = CANCELLATION_FACTS[fact]
                    await repo.insert_field_definition(
                        conn, field_id=uuid.uuid4(), site_id=site_id, name=name, type=kind,
                        choices=CANCELLED_BY if kind == "choice" else [],
                    )
        redirect = changes.get("post_login_redirect")
        if redirect and redirect != CUSTOMER_CENTER:
            page_levels = await repo.page_levels(conn, site_id, redirect)
            check_redirect(
                await repo.site_levels(conn, site_id), redirect, {p.level_id for p in page_levels} if page_levels else None
            )
        site = await repo.update_site(conn, site_id, changes)
        await audit.record(conn, admin, "site.updated", "site", site_id, before=site_out(before), after=site_out(site))
    log.info("site.updated", site_id=str(site_id), changed=sorted(changes))
    return json_response(site_out(site))


@routes.get("/internal/sites/{slug}/embedding")
async def embedding(request: web.Request) -> web.Response:
    """For the gateway: which origins may embed the site's Customer Center (CSP frame-ancestors, CORS)."""
    slug = request.match_info["slug"].lower()
    async with connection(request) as conn:
        site = await repo.site_by_slug(conn, slug) if len(slug) <= 63 else None
    if site is None:
        raise NotFound("No such site.")
    return web.json_response(
        {"site": site.slug, "embed_origins": site.embed_origins, "customer_center_enabled": site.customer_center_enabled}
    )
