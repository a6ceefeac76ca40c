"""Admin: contacts with tags and typed custom fields, their field definitions, manual grants."""

import uuid
from datetime import datetime, timezone

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import EmailTaken, GrantAlreadyEnded, NameTaken, UnknownLevel, check_fields
from services.membership.grants import end_grant, grant_level
from services.membership.http.common import connection, path_id, query_int, work
from services.membership.schemas import (
    ContactCreate,
    ContactOut,
    ContactPage,
    ContactPatch,
    FieldCreate,
    GrantCreate,
    GrantOut,
    GrantRevoke,
)
from shared import audit
from shared.errors import NotFound
from shared.events.membership import ContactCreated
from shared.http import json_response, read_body
from shared.identity import admin_site_of
from shared.logging import get_logger

log = get_logger("membership.contacts")
routes = web.RouteTableDef()


def grant_out(g) -> GrantOut:
    return GrantOut(
        id=g.id,
        level_id=g.level_id,
        level=g.level_name,
        program=g.program_name,
        source=g.source,
        starts_at=g.starts_at,
        ends_at=g.ends_at,
        ended_reason=g.ended_reason,
    )


def contact_out(row: dict, grants=None) -> ContactOut:
    return ContactOut(
        **{k: row[k] for k in ("id", "email", "first_name", "last_name", "tags", "fields", "created_at", "updated_at")},
        grants=None if grants is None else [grant_out(g) for g in grants],
    )


@routes.post("/admin/api/contacts")
async def create_contact(request: web.Request) -> web.Response:
    """A contact added by the business: the same ``membership.contact.created``; a grant only if asked."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, ContactCreate)
    contact_id = uuid.uuid4()
    async with work(request) as uow:
        site = await repo.site_by_id(uow.conn, site_id)
        fields = check_fields(await repo.field_definitions(uow.conn, site_id), body.fields)
        level = await repo.level_of_site(uow.conn, site_id, body.level_id) if body.level_id else None
        if body.level_id and level is None:
            raise UnknownLevel(details={"fields": {"level_id": "no such level on this site"}})
        contact = await repo.insert_contact(
            uow.conn,
            contact_id=contact_id,
            site_id=site_id,
            email=body.email,
            first_name=body.first_name,
            last_name=body.last_name,
            tags=sorted(set(body.tags)),
            fields=fields,
        )
        if contact is None:
            raise EmailTaken("A contact with this email address already exists on this site.")
        await uow.publish(
            ContactCreated(
                contact_id=contact_id,
                site_id=site_id,
                site_slug=site.slug,
                email=body.email,
                first_name=body.first_name,
                last_name=body.last_name,
                start_sequences=body.start_sequences,
            )
        )
        if level is not None:
            await grant_level(uow, site=site, contact=contact, level=level, source="manual", starts_at=datetime.now(timezone.utc))
        grants = await repo.grants_of_contact(uow.conn, contact_id)
        await audit.record(uow.conn, admin, "contact.created", "contact", contact_id, contact_id=contact_id,
                           after=contact_out(contact, grants))
    log.info("contact.created", contact_id=str(contact_id))
    return json_response(contact_out(contact, grants), status=201)


@routes.get("/admin/api/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    """Newest first; ``?q=`` searches name and email, ``?tag=`` filters; ``limit``/``offset`` paginate."""
    site_id = admin_site_of(request).site_id
    limit = query_int(request, "limit", 50, 1, 200)
    offset = query_int(request, "offset", 0, 0, 10_000_000)
    q = (request.query.get("q") or "").strip()[:200] or None
    tag = (request.query.get("tag") or "").strip()[:64] or None
    async with connection(request) as conn:
        rows, total = await repo.search_contacts(conn, site_id, q=q, tag=tag, limit=limit, offset=offset)
    return json_response(ContactPage(items=[contact_out(r) for r in rows], total=total, limit=limit, offset=offset))


@routes.get("/admin/api/contacts/{contact_id}")
async def get_contact(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    contact_id = path_id(request, "contact_id")
    async with connection(request) as conn:
        row = await repo.contact(conn, site_id, contact_id)
        if row is None:
            raise NotFound("No such contact.")
        grants = await repo.grants_of_contact(conn, contact_id)
    return json_response(contact_out(row, grants))


@routes.patch("/admin/api/contacts/{contact_id}")
async def patch_contact(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    contact_id = path_id(request, "contact_id")
    body = await read_body(request, ContactPatch)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    async with work(request) as uow:
        before = await repo.contact(uow.conn, site_id, contact_id, for_update=True)
        if before is None:
            raise NotFound("No such contact.")
        if "fields" in changes:
            changes["fields"] = check_fields(await repo.field_definitions(uow.conn, site_id), body.fields)
        if "tags" in changes:
            changes["tags"] = sorted(set(changes["tags"]))
        if "email" in changes and await repo.email_taken(uow.conn, site_id, changes["email"], contact_id):
            raise EmailTaken("Another contact on this site has this email address.")
        await repo.update_contact(uow.conn, contact_id, changes)
        row = await repo.contact(uow.conn, site_id, contact_id)
        grants = await repo.grants_of_contact(uow.conn, contact_id)
        await audit.record(uow.conn, admin, "contact.updated", "contact", contact_id, contact_id=contact_id,
                           before=contact_out(before), after=contact_out(row))
    log.info("contact.updated", contact_id=str(contact_id), changed=sorted(changes))
    return json_response(contact_out(row, grants))


@routes.post("/admin/api/fields")
async def create_field(request: web.Request) -> web.Response:
    """A custom field definition of the site: text, number, date or choice."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, FieldCreate)
    field_id = uuid.uuid4()
    async with work(request) as uow:
        if not await repo.insert_field_definition(
            uow.conn, field_id=field_id, site_id=site_id, name=body.name, type=body.type, choices=body.choices
        ):
            raise NameTaken("This site already has a custom field by that name.")
        await audit.record(uow.conn, admin, "field.created", "field", field_id, after=body)
    return json_response(body, status=201)


@routes.get("/admin/api/fields")
async def list_fields(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with connection(request) as conn:
        definitions = await repo.field_definitions(conn, site_id)
    return json_response({"items": [{"name": d.name, "type": d.type, "choices": d.choices} for d in definitions.values()]})


@routes.post("/admin/api/contacts/{contact_id}/grants")
async def grant(request: web.Request) -> web.Response:
    """A manual grant: ``membership.granted`` (the contact's first one on the site issues credentials)."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    contact_id = path_id(request, "contact_id")
    body = await read_body(request, GrantCreate)
    async with work(request) as uow:
        contact = await repo.contact(uow.conn, site_id, contact_id, for_update=True)
        if contact is None:
            raise NotFound("No such contact.")
        level = await repo.level_of_site(uow.conn, site_id, body.level_id)
        if level is None:
            raise UnknownLevel(details={"fields": {"level_id": "no such level on this site"}})
        site = await repo.site_by_id(uow.conn, site_id)
        grant_id = await grant_level(
            uow,
            site=site,
            contact=contact,
            level=level,
            source="manual",
            starts_at=body.starts_at or datetime.now(timezone.utc),
            ends_at=body.ends_at,
        )
        [made] = [g for g in await repo.grants_of_contact(uow.conn, contact_id) if g.id == grant_id]
        await audit.record(uow.conn, admin, "grant.created", "grant", grant_id, contact_id=contact_id,
                           after=grant_out(made))
    log.info("grant.manual", grant_id=str(grant_id), contact_id=str(contact_id))
    return json_response(grant_out(made), status=201)


@routes.delete("/admin/api/contacts/{contact_id}/grants/{grant_id}")
async def revoke(request: web.Request) -> web.Response:
    """Ends the grant now: ``membership.revoked``."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    contact_id, grant_id = path_id(request, "contact_id"), path_id(request, "grant_id")
    body = await read_body(request, GrantRevoke) if request.can_read_body else GrantRevoke()
    now = datetime.now(timezone.utc)
    async with work(request) as uow:
        if await repo.contact(uow.conn, site_id, contact_id, for_update=True) is None:
            raise NotFound("No such contact.")
        found = await repo.grant_of_contact(uow.conn, contact_id, grant_id)
        if found is None:
            raise NotFound("No such grant.")
        if found.ends_at is not None and found.ends_at <= now:
            raise GrantAlreadyEnded()
        await end_grant(uow, site_id=site_id, contact_id=contact_id, grant=found, ends_at=now, reason=body.reason)
        [ended] = [g for g in await repo.grants_of_contact(uow.conn, contact_id) if g.id == grant_id]
        await audit.record(uow.conn, admin, "grant.revoked", "grant", grant_id, contact_id=contact_id,
                           before=grant_out(found), after=grant_out(ended))
    log.info("grant.revoked", grant_id=str(grant_id), contact_id=str(contact_id))
    return json_response(grant_out(ended))
