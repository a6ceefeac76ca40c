"""Registration, the contact's own view, and the gateway's admin key check."""

import hashlib
import uuid
from datetime import datetime, timezone

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import EmailTaken, SiteNotFound, check_can_register
from services.membership.grants import granted_event
from services.membership.http.common import connection
from services.membership.schemas import ApiKeyCheck, Me, Membership, RegisterRequest, RegisterResponse
from shared.errors import NotFound, Unauthorized
from shared.events import envelopes_json
from shared.events.membership import ContactCreated
from shared.faults import crash_point
from shared.http import json_response, read_body
from shared.identity import contact_of
from shared.logging import get_logger

log = get_logger("membership.http")
routes = web.RouteTableDef()


@routes.post("/api/register")
async def register(request: web.Request) -> web.Response:
    """A new contact gets the site's registration defaults (level, tags, sequences); the welcome email follows by events."""
    body = await read_body(request, RegisterRequest)
    contact_id, grant_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(timezone.utc)
    async with connection(request) as conn:
        site, level = await repo.site_and_default_level(conn, body.site) or (None, None)
        if site is None:
            raise SiteNotFound()
        check_can_register(site)
        created = ContactCreated(
            contact_id=contact_id,
            site_id=site.id,
            site_slug=site.slug,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            start_sequences=list(site.registration_sequences),
        )
        contact = {"id": contact_id, "email": body.email, "first_name": body.first_name, "last_name": body.last_name}
        granted = granted_event(grant_id, site=site, contact=contact, level=level, source="registration", starts_at=now)
        events = envelopes_json([created, granted], producer="membership", correlation_id=request["correlation_id"])
        # One statement: the contact, its grant and both events commit together, or nothing does (the
        # crash points are a unit of work's, which this is).
        crash_point("uow.before_commit")
        if not await repo.register_contact(
            conn, contact_id=contact_id, site_id=site.id, email=body.email, first_name=body.first_name,
            last_name=body.last_name, tags=list(site.registration_tags), grant_id=grant_id, level_id=level.id,
            starts_at=now, events=events,
        ):
            raise EmailTaken()
        crash_point("uow.after_commit")
    log.info("contact.registered", contact_id=str(contact_id), site=site.slug, level_id=str(level.id))
    return json_response(
        RegisterResponse(contact_id=contact_id, site=site.slug, email=body.email, level=level.name), status=201
    )


@routes.post("/internal/api-keys/verify")
async def verify_api_key(request: web.Request) -> web.Response:
    """The gateway asks which site an admin API key belongs to (only its hash is stored)."""
    body = await read_body(request, ApiKeyCheck)
    async with connection(request) as conn:
        row = await repo.site_of_api_key(conn, hashlib.sha256(body.key.encode()).digest())
    if row is None:
        raise Unauthorized("The admin API key is not valid.")
    return web.json_response(
        {"site_id": str(row["site_id"]), "site": row["site_slug"], "key_id": str(row["key_id"]), "label": row["label"]}
    )


@routes.get("/api/me")
async def me(request: web.Request) -> web.Response:
    """The logged-in contact and their memberships (program, level, since, until)."""
    who = contact_of(request)
    async with connection(request) as conn:
        rows = await repo.me(conn, who.site_id, who.contact_id)
    if not rows:
        raise NotFound()
    row = rows[0]
    return json_response(
        Me(
            contact_id=row["id"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            memberships=[
                Membership(program=g["program"], level=g["level"], since=g["starts_at"], until=g["ends_at"])
                for g in rows
                if g["starts_at"] is not None
            ],
        )
    )
