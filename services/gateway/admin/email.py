"""The console's email and integration pages: templates (edit, preview for a sample contact, back to
the default), sequences, webhooks; and the operations pages: messages sent and held (with why held),
webhook deliveries (replay) and dead letters (replay). Built like ``setup.py``."""

from urllib.parse import quote, urlencode

from aiohttp import web

from services.gateway.admin.console import Staff, ask_as, console
from services.gateway.admin.forms import act, problem, words
from services.gateway.admin.setup import need, page
from services.gateway import api_ops
from services.gateway.pages import language
from services.gateway.web.common import form_with_csrf, see_other
from services.gateway.web.i18n import Translator
from shared.errors import ServiceError

routes = web.RouteTableDef()


def _q(value: str) -> str:
    return quote(value, safe="")


# --- templates ---------------------------------------------------------------------------------------


async def _templates(request: web.Request, staff: Staff, **kw) -> web.Response:
    templates = need(await ask_as(request, staff, "notify", "GET", "/admin/api/templates"), "notify")
    return await page(request, staff, "templates", "templates", templates=templates["templates"], **kw)


@routes.get("/admin/templates")
@console
async def templates_page(request: web.Request, staff: Staff) -> web.Response:
    return await _templates(request, staff)


async def _template(request: web.Request, staff: Staff, name: str, **kw) -> web.Response:
    answer = await ask_as(request, staff, "notify", "GET", f"/admin/api/templates/{_q(name)}")
    if answer.status == 404:  # a new template of the site's own
        template = {"name": name, "kind": "custom", "customized": False, "merge_fields": [], "subject": "",
                    "text": "", "html": "", "description": "", "new": True}
    else:
        template = need(answer, "notify")
    return await page(request, staff, "template", "templates", email_template=template, **kw)


@routes.get("/admin/templates/{name}")
@console
async def template_page(request: web.Request, staff: Staff) -> web.Response:
    return await _template(request, staff, request.match_info["name"])


@routes.post("/admin/templates/new")
@console
async def new_template(request: web.Request, staff: Staff) -> web.Response:
    form = await form_with_csrf(request)
    return see_other(f"/admin/templates/{_q(form.get('name', '').strip() or 'new')}")


def _parts(form: dict) -> dict:
    return {p: form.get(p, "") for p in ("subject", "text", "html")}


@routes.post("/admin/templates/{name}")
@console
async def save_template(request: web.Request, staff: Staff) -> web.Response:
    """Save, or (the Preview button) render the draft for a sample contact without saving it."""
    name = request.match_info["name"]
    form = await form_with_csrf(request)
    if form.get("action") == "preview":
        body = {**_parts(form), **({"contact_id": form["contact_id"].strip()} if form.get("contact_id", "").strip() else {})}
        answer = await ask_as(request, staff, "notify", "POST", f"/admin/api/templates/{_q(name)}/preview", body)
        if not answer.ok:
            return await _template(request, staff, name, status=answer.status, form=form, error=problem(request, answer))
        return await _template(request, staff, name, form=form, preview=answer.body)
    return await act(request, staff, "notify", "PUT", f"/admin/api/templates/{_q(name)}", _parts(form),
                     back=f"/admin/templates/{_q(name)}", done="saved",
                     again=lambda **kw: _template(request, staff, name, form=form, **kw))


@routes.post("/admin/templates/{name}/reset")
@console
async def reset_template(request: web.Request, staff: Staff) -> web.Response:
    await form_with_csrf(request)
    name = request.match_info["name"]
    return await act(request, staff, "notify", "DELETE", f"/admin/api/templates/{_q(name)}", None,
                     back="/admin/templates", done="template_reset",
                     again=lambda **kw: _template(request, staff, name, **kw))


# --- sequences ---------------------------------------------------------------------------------------


async def _sequences(request: web.Request, staff: Staff, **kw) -> web.Response:
    sequences = need(await ask_as(request, staff, "notify", "GET", "/admin/api/sequences"), "notify")
    templates = need(await ask_as(request, staff, "notify", "GET", "/admin/api/templates"), "notify")
    return await page(request, staff, "sequences", "sequences", sequences=sequences["sequences"],
                      templates=[t for t in templates["templates"] if t["kind"] == "custom"], **kw)


@routes.get("/admin/sequences")
@console
async def sequences_page(request: web.Request, staff: Staff) -> web.Response:
    return await _sequences(request, staff)


@routes.post("/admin/sequences")
@console
async def create_sequence(request: web.Request, staff: Staff) -> web.Response:
    """Steps typed one a line: ``<template> <delay in hours>``."""
    form = await form_with_csrf(request)
    steps = []
    for line in form.get("steps", "").splitlines():
        template, _, hours = line.strip().partition(" ")
        if template:
            try:
                delay = int(float(hours.strip() or 0) * 3600)
            except ValueError:
                delay = -1  # the service names the step
            steps.append({"template": template, "delay_seconds": delay})
    return await act(request, staff, "notify", "POST", "/admin/api/sequences", {"name": form.get("name", ""), "steps": steps},
                     back="/admin/sequences", done="sequence_created",
                     again=lambda **kw: _sequences(request, staff, form=form, **kw))


@routes.post("/admin/sequences/{id}/delete")
@console
async def delete_sequence(request: web.Request, staff: Staff) -> web.Response:
    await form_with_csrf(request)
    return await act(request, staff, "notify", "DELETE", f"/admin/api/sequences/{_q(request.match_info['id'])}", None,
                     back="/admin/sequences", done="deleted", again=lambda **kw: _sequences(request, staff, **kw))


# --- webhooks ------------------------------------------------------------------------------------------


async def _webhooks(request: web.Request, staff: Staff, **kw) -> web.Response:
    hooks = need(await ask_as(request, staff, "notify", "GET", "/admin/api/webhooks"), "notify")
    return await page(request, staff, "webhooks", "webhooks", webhooks=hooks["webhooks"], **kw)


@routes.get("/admin/webhooks")
@console
async def webhooks_page(request: web.Request, staff: Staff) -> web.Response:
    return await _webhooks(request, staff)


@routes.post("/admin/webhooks")
@console
async def create_webhook(request: web.Request, staff: Staff) -> web.Response:
    """The signing secret is shown on this answer's page only."""
    form = await form_with_csrf(request)
    body = {"url": form.get("url", "").strip(), "event_types": words(form.get("event_types", "")) or ["*"]}
    answer = await ask_as(request, staff, "notify", "POST", "/admin/api/webhooks", body)
    if not answer.ok:
        return await _webhooks(request, staff, status=answer.status, form=form, error=problem(request, answer))
    return await _webhooks(request, staff, created=answer.body)


@routes.post("/admin/webhooks/{id}/delete")
@console
async def delete_webhook(request: web.Request, staff: Staff) -> web.Response:
    await form_with_csrf(request)
    return await act(request, staff, "notify", "DELETE", f"/admin/api/webhooks/{_q(request.match_info['id'])}", None,
                     back="/admin/webhooks", done="deleted", again=lambda **kw: _webhooks(request, staff, **kw))


# --- operations: messages, webhook deliveries, dead letters ---------------------------------------------


@routes.get("/admin/messages")
@console
async def messages_page(request: web.Request, staff: Staff) -> web.Response:
    query = {k: request.query[k] for k in ("contact_id", "cursor") if request.query.get(k)}
    answer = await ask_as(request, staff, "notify", "GET", "/admin/api/messages?" + urlencode({**query, "limit": 50}))
    if answer.status == 422:
        return await page(request, staff, "messages", "messages", status=422, messages=[], older=None,
                          error=problem(request, answer))
    body = need(answer, "notify")
    older = body["next_cursor"] and "/admin/messages?" + urlencode(
        {**{k: v for k, v in query.items() if k == "contact_id"}, "cursor": body["next_cursor"]})
    return await page(request, staff, "messages", "messages", messages=body["messages"], older=older)


async def _deliveries(request: web.Request, staff: Staff, **kw) -> web.Response:
    hooks = need(await ask_as(request, staff, "notify", "GET", "/admin/api/webhooks"), "notify")["webhooks"]
    chosen = request.query.get("webhook") or (hooks[0]["id"] if hooks else None)
    deliveries = []
    if chosen and any(h["id"] == chosen for h in hooks):
        deliveries = need(await ask_as(request, staff, "notify", "GET", f"/admin/api/webhooks/{_q(chosen)}/deliveries"),
                          "notify")["deliveries"]
    return await page(request, staff, "deliveries", "deliveries", webhooks=hooks, chosen=chosen,
                      deliveries=deliveries, **kw)


@routes.get("/admin/deliveries")
@console
async def deliveries_page(request: web.Request, staff: Staff) -> web.Response:
    return await _deliveries(request, staff)


@routes.post("/admin/deliveries/{webhook}/{delivery}/replay")
@console
async def replay_delivery(request: web.Request, staff: Staff) -> web.Response:
    await form_with_csrf(request)
    hook, delivery = _q(request.match_info["webhook"]), _q(request.match_info["delivery"])
    return await act(request, staff, "notify", "POST", f"/admin/api/webhooks/{hook}/deliveries/{delivery}/replay", None,
                     back=f"/admin/deliveries?webhook={hook}", done="delivery_replayed",
                     again=lambda **kw: _deliveries(request, staff, **kw))


async def _dead_letters(request: web.Request, staff: Staff, **kw) -> web.Response:
    letters, unavailable = await api_ops.dead_letters(request, staff.admin)
    return await page(request, staff, "dead_letters", "dead_letters", letters=letters,
                      unavailable=unavailable, **kw)


@routes.get("/admin/dead-letters")
@console
async def dead_letters_page(request: web.Request, staff: Staff) -> web.Response:
    return await _dead_letters(request, staff)


@routes.post("/admin/dead-letters/{id}/replay")
@console
async def replay_dead_letter(request: web.Request, staff: Staff) -> web.Response:
    """Delivered again to the service(s) it died in; each applies it once."""
    await form_with_csrf(request)
    try:
        await api_ops.replay(request, staff.admin, request.match_info["id"])
    except ServiceError as exc:
        t = Translator(language(request, None))
        key = f"error.{exc.code}"
        return await _dead_letters(request, staff, status=exc.status, error=t(key) if t.has(key) else exc.message)
    return see_other("/admin/dead-letters", done="dead_letter_replayed")
