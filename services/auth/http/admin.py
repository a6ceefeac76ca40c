"""Admin API routes served by auth (the gateway checked the admin key)."""

from datetime import datetime, timedelta, timezone

from aiohttp import web

from services.auth import repository as repo
from services.auth.links import issue_password_link
from services.auth.http.common import path_uuid, settings_of
from services.auth.schemas import CredentialsResent
from shared import audit
from shared.app import POOL
from shared.db import unit_of_work
from shared.errors import NotFound
from shared.events.auth import CredentialsIssued
from shared.http import json_response
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("auth.http")
routes = web.RouteTableDef()


@routes.post("/admin/api/contacts/{contact_id}/resend-credentials")
async def resend_credentials(request: web.Request) -> web.Response:
    """A fresh set-password link by email (the welcome email again, ``resent=True``); every older
    link of the login dies."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    contact_id = path_uuid(request, "contact_id")
    settings = settings_of(request)
    now = datetime.now(timezone.utc)
    async with unit_of_work(request.app[POOL], producer=settings.service, correlation_id=request["correlation_id"]) as uow:
        login = await repo.login_of_contact(uow.conn, site_id, contact_id)
        site = await repo.site(uow.conn, site_id)
        if login is None or site is None:
            raise NotFound("This contact has no login on the site.")
        await repo.revoke_open_tokens(uow.conn, login["id"], now)
        expires_at = now + timedelta(hours=settings.set_password_ttl_hours)
        set_password_link = await issue_password_link(
            uow.conn, settings, login_id=login["id"], purpose="set_password", expires_at=expires_at,
            routing_key=CredentialsIssued.routing_key,
        )
        await uow.publish(
            CredentialsIssued(
                login_id=login["id"],
                contact_id=contact_id,
                site_id=site_id,
                site_slug=site["slug"],
                site_name=site["name"],
                program_name=login["program_name"],
                level_name=login["level_name"],
                email=login["email"],
                first_name=login["first_name"],
                username=login["username"],
                set_password_link=set_password_link,
                expires_at=expires_at,
                resent=True,
            )
        )
        await audit.record(uow.conn, admin, "credentials.resent", "login", login["id"], contact_id=contact_id,
                           after={"username": login["username"], "email": login["email"], "link_expires_at": expires_at})
    log.info("credentials.resent", login_id=str(login["id"]), contact_id=str(contact_id))
    return json_response(CredentialsResent(login_id=login["id"], username=login["username"], expires_at=expires_at), status=202)
