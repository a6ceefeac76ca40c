"""Membership's HTTP API (reached through the gateway)."""

import uuid
from datetime import datetime, timezone

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import EmailTaken, SiteNotFound, check_can_register
from services.membership.schemas import RegisterRequest, RegisterResponse
from shared.app import POOL
from shared.db import unit_of_work
from shared.events.membership import ContactCreated, Granted
from shared.http import json_response, read_body
from shared.logging import get_logger

log = get_logger("membership.http")
routes = web.RouteTableDef()


@routes.post("/api/register")
async def register(request: web.Request) -> web.Response:
    """A new contact on a site gets the site's default level; the welcome email follows by events."""
    body = await read_body(request, RegisterRequest)
    contact_id, grant_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    async with unit_of_work(
        request.app[POOL], producer="membership", correlation_id=request["correlation_id"]
    ) as uow:
        site = await repo.site_by_slug(uow.conn, body.site)
        if site is None:
            raise SiteNotFound()
        level_id = check_can_register(site)
        if not await repo.insert_contact(
            uow.conn,
            contact_id=contact_id,
            site_id=site.id,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
        ):
            raise EmailTaken()
        level = await repo.level(uow.conn, level_id)
        await repo.insert_grant(
            uow.conn, grant_id=grant_id, contact_id=contact_id, level_id=level_id, source="registration", starts_at=now
        )
        await uow.publish(
            ContactCreated(
                contact_id=contact_id,
                site_id=site.id,
                site_slug=site.slug,
                email=body.email,
                first_name=body.first_name,
                last_name=body.last_name,
            )
        )
        await uow.publish(
            Granted(
                grant_id=grant_id,
                contact_id=contact_id,
                site_id=site.id,
                site_slug=site.slug,
                site_name=site.name,
                program_name=level.program_name,
                level_id=level.id,
                level_name=level.name,
                email=body.email,
                first_name=body.first_name,
                last_name=body.last_name,
                source="registration",
                starts_at=now,
            )
        )
    log.info("contact.registered", contact_id=str(contact_id), site=site.slug, level_id=str(level_id))
    return json_response(
        RegisterResponse(contact_id=contact_id, site=site.slug, email=body.email, level=level.name), status=201
    )
