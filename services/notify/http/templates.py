"""A site's templates (defaults, its own versions, its own templates) and its From / Reply-To."""

from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from services.notify import repository as repo
from services.notify.email import sender_for
from services.notify.http.common import iso
from services.notify.schemas import EmailSettingsBody, PreviewBody, TemplateBody, TemplateName
from services.notify.sites import SITES
from services.notify.templates import (
    CONTACT_FIELDS, DEFAULTS, SAMPLE_CONTACT, InvalidTemplate, MissingMergeFields, Template, UndeclaredMergeField,
    sample_fields,
)
from shared import audit
from shared.app import POOL, SETTINGS
from shared.errors import InvalidRequest, NotFound
from shared.http import read_body
from shared.identity import admin_site_of

routes = web.RouteTableDef()
_NAME = TypeAdapter(TemplateName)


class UndeclaredField(InvalidRequest):
    code = "undeclared_merge_field"


class TemplateInvalid(InvalidRequest):
    code = "template_invalid"


def _name(request: web.Request) -> str:
    try:
        return _NAME.validate_python(request.match_info["name"])
    except ValidationError:
        raise NotFound() from None


def _view(name: str, row, *, declared: frozenset[str]) -> dict:
    default = DEFAULTS.get(name)
    source = row or {}
    return {
        "name": name,
        "kind": "default" if default else "custom",
        "event": default.event if default else None,
        "description": default.description if default else "The site's own template (for sequences).",
        "merge_fields": sorted(declared),
        "customized": row is not None,
        "subject": source["subject"] if row else default.subject,
        "text": source["text_body"] if row else default.text,
        "html": source["html_body"] if row else default.html,
        "updated_at": iso(row["updated_at"]) if row else None,
    }


@routes.get("/admin/api/templates")
async def list_templates(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with request.app[POOL].acquire() as conn:
        own = {r["name"]: r for r in await repo.site_templates(conn, site_id)}
    names = [*DEFAULTS, *sorted(set(own) - set(DEFAULTS))]
    return web.json_response(
        {
            "templates": [
                _view(n, own.get(n), declared=_declared(n)) for n in names
            ]
        }
    )


@routes.get("/admin/api/templates/{name}")
async def get_template(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    name = _name(request)
    async with request.app[POOL].acquire() as conn:
        row = await repo.site_template(conn, site_id, name)
    if row is None and name not in DEFAULTS:
        raise NotFound()
    return web.json_response(_view(name, row, declared=_declared(name)))


def _checked(name: str, *, subject: str, text: str, html: str, declared: frozenset[str]) -> Template:
    """The template as an admin wrote it; 422 naming an undeclared merge field or what cannot be used."""
    try:
        return Template.written(name=name, subject=subject, text=text, html=html, allowed=declared)
    except UndeclaredMergeField as exc:
        raise UndeclaredField(
            f"The template uses merge field(s) this email does not have: {', '.join(exc.names)}.",
            details={
                "fields": {part: "undeclared merge field(s): " + ", ".join(names) for part, names in exc.fields.items()},
                "undeclared": exc.names,
                "merge_fields": sorted(declared),
            },
        ) from None
    except InvalidTemplate as exc:
        raise TemplateInvalid(f"The template cannot be used: {exc}", details={"fields": {exc.part: str(exc)}}) from None


def _declared(name: str) -> frozenset[str]:
    return DEFAULTS[name].required if name in DEFAULTS else CONTACT_FIELDS


@routes.put("/admin/api/templates/{name}")
async def put_template(request: web.Request) -> web.Response:
    """Save the site's version: refused (422) when it uses a merge field its email does not declare."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    name = _name(request)
    body = await read_body(request, TemplateBody)
    declared = _declared(name)
    _checked(name, subject=body.subject, text=body.text, html=body.html, declared=declared)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        before = await repo.site_template(conn, site_id, name)
        await repo.put_site_template(conn, site_id, name=name, subject=body.subject, text=body.text, html=body.html)
        row = await repo.site_template(conn, site_id, name)
        await audit.record(conn, admin, "template.saved", "template", name,
                           before=_view(name, before, declared=declared) if before else None,
                           after=_view(name, row, declared=declared))
    return web.json_response(_view(name, row, declared=declared))


@routes.post("/admin/api/templates/{name}/preview")
async def preview_template(request: web.Request) -> web.Response:
    """The email as a contact would get it: the saved template, or the draft in the body, rendered
    strictly (an undeclared merge field is refused with its name, as saving would)."""
    site_id = admin_site_of(request).site_id
    name = _name(request)
    body = await read_body(request, PreviewBody)
    async with request.app[POOL].acquire() as conn:
        row = await repo.site_template(conn, site_id, name)
        contact = await repo.contact(conn, body.contact_id, site_id) if body.contact_id else None
        site_name = await request.app[SITES].name(conn, site_id)
    if body.contact_id and contact is None:
        raise NotFound("No such contact.")
    current = _view(name, row, declared=_declared(name)) if row is not None or name in DEFAULTS else None
    if current is None and None in (body.subject, body.text, body.html):
        raise NotFound("No such template: send its subject, text and html to preview a new one.")
    parts = {p: getattr(body, p) if getattr(body, p) is not None else current[p] for p in ("subject", "text", "html")}
    template = _checked(name, **parts, declared=_declared(name))
    person = dict(contact) if contact is not None else SAMPLE_CONTACT
    values = sample_fields(request.app[SETTINGS].public_url, username=person["email"])
    values.update(site_name=site_name or "Your site", first_name=person["first_name"],
                  last_name=person["last_name"], email=person["email"])
    try:
        rendered = template.render(values)
    except MissingMergeFields as exc:
        raise InvalidRequest(f"The contact lacks merge field(s): {', '.join(exc.fields)}.",
                             details={"fields": {f: "missing or blank" for f in exc.fields}}) from None
    return web.json_response(
        {
            "name": name,
            "contact": {"id": str(contact["id"]) if contact else None, "email": person["email"],
                        "first_name": person["first_name"], "last_name": person["last_name"]},
            "subject": rendered.subject,
            "text": rendered.text,
            "html": rendered.html,
        }
    )


@routes.delete("/admin/api/templates/{name}")
async def delete_template(request: web.Request) -> web.Response:
    """Back to the default (or, for a site's own template, gone)."""
    admin = admin_site_of(request)
    site_id = admin.site_id
    name = _name(request)
    declared = _declared(name)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        before = await repo.site_template(conn, site_id, name)
        deleted = await repo.delete_site_template(conn, site_id, name)
        if deleted:
            await audit.record(conn, admin, "template.deleted", "template", name,
                               before=_view(name, before, declared=declared) if before else None)
    if not deleted and name not in DEFAULTS:
        raise NotFound()
    if name in DEFAULTS:
        return web.json_response(_view(name, None, declared=DEFAULTS[name].required))
    return web.Response(status=204)


@routes.get("/admin/api/email-settings")
async def get_email_settings(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    async with request.app[POOL].acquire() as conn:
        return web.json_response(await _email_settings(conn, request, site_id))


@routes.put("/admin/api/email-settings")
async def put_email_settings(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    site_id = admin.site_id
    body = await read_body(request, EmailSettingsBody)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        before = await _email_settings(conn, request, site_id)
        await repo.put_email_settings(conn, site_id, mail_from=body.mail_from, reply_to=body.reply_to)
        after = await _email_settings(conn, request, site_id)
        await audit.record(conn, admin, "email_settings.saved", "email_settings", None, before=before, after=after)
        return web.json_response(after)


async def _email_settings(conn, request: web.Request, site_id) -> dict:
    row = await repo.email_settings(conn, site_id)
    mail_from, reply_to = await sender_for(conn, request.app[SETTINGS], site_id)
    return {
        "mail_from": row["mail_from"] if row else None,
        "reply_to": row["reply_to"] if row else None,
        "effective": {"from": mail_from, "reply_to": reply_to},
    }
