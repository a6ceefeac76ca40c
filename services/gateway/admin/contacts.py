"""Contacts in the console: search, the record (tags, custom fields, memberships, audit entries),
its Purchases (orders, invoices, payments, cards; Edit order; refunds) and its Access panel (can they
log in, where they land, why a page opens or not; Resend login credentials).

Every read and change goes through the services' admin API as the staff member (``ask_as``), so
each change is checked, and audited, exactly as an API key's would be. Each form answers 303 back
to its page with ``?done=`` or ``?error=`` (and the fields to correct)."""

import asyncio
from datetime import datetime, time, timezone
from urllib.parse import urlencode
from uuid import UUID

from aiohttp import web

from services.gateway.admin.audit import merged_entries
from services.gateway.admin.console import Staff, ask_as, console, flash, refusal, render_console
from services.gateway.web.common import Answer, form_with_csrf, see_other
from shared.errors import NotFound, ServiceUnavailable

routes = web.RouteTableDef()
PAGE_SIZE = 25


def _uuid(request: web.Request, name: str = "id") -> str:
    try:
        return str(UUID(request.match_info[name]))
    except ValueError:
        raise NotFound() from None


def _offset(request: web.Request) -> int:
    raw = request.query.get("offset", "0")
    return min(int(raw), 10_000_000) if raw.isdigit() else 0


def _needed(answer: Answer, what: str = "contact") -> dict:
    """A read the page cannot do without: its 404 is the page's 404, a service down a 503 page."""
    if answer.status == 404:
        raise NotFound(f"No such {what}.")
    if not answer.ok:
        raise ServiceUnavailable()
    return answer.body


async def _optional(coroutine) -> Answer | None:
    """A read the page shows when it can: a service down leaves that part out, saying so."""
    try:
        answer = await coroutine
    except ServiceUnavailable:
        return None
    return answer if answer.ok else None


def _back(path: str, answer: Answer, done: str) -> web.Response:
    return see_other(path, done=done) if answer.ok else see_other(path, **refusal(answer))


# --- search ------------------------------------------------------------------------------------


@routes.get("/admin/contacts")
@console
async def contacts(request: web.Request, staff: Staff) -> web.Response:
    q = request.query.get("q", "").strip()[:200]
    offset = _offset(request)
    query = urlencode({k: v for k, v in (("q", q), ("limit", PAGE_SIZE), ("offset", offset)) if v != ""})
    found = _needed(await ask_as(request, staff, "membership", "GET", f"/admin/api/contacts?{query}"))

    def page_link(at: int) -> str:
        return "/admin/contacts?" + urlencode({**({"q": q} if q else {}), "offset": at})

    return await render_console(
        request, "contacts.html", staff=staff, section="contacts", title_key="admin.contacts.title", q=q,
        contacts=found["items"], total=found["total"], first=offset + 1, last=offset + len(found["items"]),
        previous=page_link(max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        next=page_link(offset + PAGE_SIZE) if offset + PAGE_SIZE < found["total"] else None,
        **flash(request),
    )


# --- the record ----------------------------------------------------------------------------------


async def _contact(request: web.Request, staff: Staff, contact_id: str) -> dict:
    return _needed(await ask_as(request, staff, "membership", "GET", f"/admin/api/contacts/{contact_id}"))


@routes.get("/admin/contacts/{id}")
@console
async def record(request: web.Request, staff: Staff) -> web.Response:
    contact_id = _uuid(request)
    contact, fields, levels, (entries, missing) = await asyncio.gather(
        _contact(request, staff, contact_id),
        _optional(ask_as(request, staff, "membership", "GET", "/admin/api/fields")),
        _optional(ask_as(request, staff, "membership", "GET", "/admin/api/levels")),
        merged_entries(request, staff.admin, contact_id=contact_id, limit=20),
    )
    return await render_console(
        request, "contact.html", staff=staff, section="contacts", title_key="admin.contact.title",
        title_values={"name": _name(contact)}, contact=contact, tab="record",
        field_definitions=fields.body["items"] if fields else [], levels=levels.body["items"] if levels else None,
        entries=entries, missing=missing, **flash(request),
    )


def _name(contact: dict) -> str:
    return f"{contact['first_name']} {contact['last_name']}".strip() or contact["email"]


def _field_value(kind: str, raw: str):
    """A custom field's form value as the API takes it; empty removes the field (null)."""
    raw = raw.strip()
    if raw == "":
        return None
    if kind == "number":
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            return raw  # membership refuses it, naming the field
        return int(number) if number.is_integer() else number
    return raw


@routes.post("/admin/contacts/{id}")
@console
async def save_contact(request: web.Request, staff: Staff) -> web.Response:
    contact_id = _uuid(request)
    form = await form_with_csrf(request)
    fields = await _optional(ask_as(request, staff, "membership", "GET", "/admin/api/fields"))
    definitions = {d["name"]: d["type"] for d in (fields.body["items"] if fields else [])}
    body = {k: form.get(k, "") for k in ("first_name", "last_name", "email")}
    body["tags"] = [tag.strip() for tag in form.get("tags", "").split(",") if tag.strip()]
    body["fields"] = {name: _field_value(kind, form.get(f"field.{name}", "")) for name, kind in definitions.items()
                      if f"field.{name}" in form}
    answer = await ask_as(request, staff, "membership", "PATCH", f"/admin/api/contacts/{contact_id}", body)
    return _back(f"/admin/contacts/{contact_id}", answer, "contact_saved")


@routes.post("/admin/contacts/{id}/grants")
@console
async def grant(request: web.Request, staff: Staff) -> web.Response:
    contact_id = _uuid(request)
    form = await form_with_csrf(request)
    body = {"level_id": form.get("level_id", "")}
    if form.get("ends_on"):
        try:
            body["ends_at"] = datetime.combine(datetime.fromisoformat(form["ends_on"]).date(), time(23, 59, 59),
                                               tzinfo=timezone.utc).isoformat()
        except ValueError:
            return see_other(f"/admin/contacts/{contact_id}", error="validation_failed", fields="ends_on")
    answer = await ask_as(request, staff, "membership", "POST", f"/admin/api/contacts/{contact_id}/grants", body)
    return _back(f"/admin/contacts/{contact_id}", answer, "granted")


@routes.post("/admin/contacts/{id}/grants/{grant_id}/revoke")
@console
async def revoke(request: web.Request, staff: Staff) -> web.Response:
    contact_id, grant_id = _uuid(request), _uuid(request, "grant_id")
    form = await form_with_csrf(request)
    reason = form.get("reason", "").strip() or "revoked by " + staff.email
    answer = await ask_as(request, staff, "membership", "DELETE", f"/admin/api/contacts/{contact_id}/grants/{grant_id}",
                          {"reason": reason})
    return _back(f"/admin/contacts/{contact_id}", answer, "revoked")


# --- purchases -----------------------------------------------------------------------------------


async def _purchases(request: web.Request, staff: Staff, contact_id: str) -> dict:
    """Billing hears of a contact from membership's event: a contact created a moment ago (membership
    answers for it, the caller checks) is one billing has no purchases for yet, not a missing page."""
    answer = await ask_as(request, staff, "billing", "GET", f"/admin/api/contacts/{contact_id}/purchases")
    if answer.status == 404:
        return {"contact_id": contact_id, "orders": [], "invoices": [], "payments": [], "cards": []}
    return _needed(answer)


@routes.get("/admin/contacts/{id}/purchases")
@console
async def purchases(request: web.Request, staff: Staff) -> web.Response:
    contact_id = _uuid(request)
    contact, bought = await asyncio.gather(_contact(request, staff, contact_id), _purchases(request, staff, contact_id))
    return await render_console(
        request, "contact_purchases.html", staff=staff, section="contacts", title_key="admin.purchases.title",
        title_values={"name": _name(contact)}, contact=contact, tab="purchases", purchases=bought, **flash(request),
    )


@routes.get("/admin/contacts/{id}/orders/{order_id}")
@console
async def edit_order(request: web.Request, staff: Staff) -> web.Response:
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    contact, bought = await asyncio.gather(_contact(request, staff, contact_id), _purchases(request, staff, contact_id))
    order = next((o for o in bought["orders"] if o["id"] == order_id), None)
    if order is None:
        raise NotFound("No such order.")
    return await render_console(
        request, "order_edit.html", staff=staff, section="contacts", title_key="admin.order.title",
        title_values={"product": order["product_name"]}, contact=contact, tab="purchases", order=order,
        cards=bought["cards"], **flash(request),
    )


def _order_path(contact_id: str, order_id: str) -> str:
    return f"/admin/contacts/{contact_id}/orders/{order_id}"


@routes.post("/admin/contacts/{id}/orders/{order_id}/card")
@console
async def change_card(request: web.Request, staff: Staff) -> web.Response:
    """This order only: the contact's other orders keep their cards."""
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    form = await form_with_csrf(request)
    answer = await ask_as(request, staff, "billing", "PATCH", f"/admin/api/orders/{order_id}",
                          {"card_id": form.get("card_id", "")})
    return _back(_order_path(contact_id, order_id), answer, "card_changed")


@routes.post("/admin/contacts/{id}/orders/{order_id}/next-billing-date")
@console
async def change_date(request: web.Request, staff: Staff) -> web.Response:
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    form = await form_with_csrf(request)
    try:
        day = datetime.fromisoformat(form.get("next_billing_date", "")).date()
    except ValueError:
        return see_other(_order_path(contact_id, order_id), error="validation_failed", fields="next_billing_date")
    # The day chosen, at the time of day the order bills now (midnight UTC when it has none).
    current = form.get("current_next_billing_date", "")
    try:
        at = datetime.fromisoformat(current).timetz() if current else time(tzinfo=timezone.utc)
    except ValueError:
        at = time(tzinfo=timezone.utc)
    when = datetime.combine(day, at.replace(tzinfo=at.tzinfo or timezone.utc))
    answer = await ask_as(request, staff, "billing", "PATCH", f"/admin/api/orders/{order_id}",
                          {"next_billing_date": when.isoformat()})
    return _back(_order_path(contact_id, order_id), answer, "date_changed")


@routes.post("/admin/contacts/{id}/orders/{order_id}/pause")
@console
async def pause(request: web.Request, staff: Staff) -> web.Response:
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    await form_with_csrf(request)
    answer = await ask_as(request, staff, "billing", "POST", f"/admin/api/orders/{order_id}/pause", {})
    return _back(_order_path(contact_id, order_id), answer, "paused")


@routes.post("/admin/contacts/{id}/orders/{order_id}/resume")
@console
async def resume(request: web.Request, staff: Staff) -> web.Response:
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    await form_with_csrf(request)
    answer = await ask_as(request, staff, "billing", "POST", f"/admin/api/orders/{order_id}/resume", {})
    return _back(_order_path(contact_id, order_id), answer, "resumed")


@routes.post("/admin/contacts/{id}/orders/{order_id}/cancel")
@console
async def cancel(request: web.Request, staff: Staff) -> web.Response:
    contact_id, order_id = _uuid(request), _uuid(request, "order_id")
    form = await form_with_csrf(request)
    at = form.get("at") if form.get("at") in ("period_end", "now") else "period_end"
    answer = await ask_as(request, staff, "billing", "POST", f"/admin/api/orders/{order_id}/cancel",
                          {"reason": form.get("reason", "").strip(), "at": at})
    return _back(_order_path(contact_id, order_id), answer, "order_cancelled")


@routes.post("/admin/contacts/{id}/payments/{payment_id}/refund")
@console
async def refund(request: web.Request, staff: Staff) -> web.Response:
    contact_id, payment_id = _uuid(request), _uuid(request, "payment_id")
    await form_with_csrf(request)
    answer = await ask_as(request, staff, "billing", "POST", f"/admin/api/payments/{payment_id}/refund", {})
    return _back(f"/admin/contacts/{contact_id}/purchases", answer, "refunded")


# --- access --------------------------------------------------------------------------------------


@routes.get("/admin/contacts/{id}/access")
@console
async def access(request: web.Request, staff: Staff) -> web.Response:
    contact_id = _uuid(request)
    page = request.query.get("page", "").strip()[:500]
    query = f"?{urlencode({'page': page})}" if page else ""
    contact, answer = await asyncio.gather(
        _contact(request, staff, contact_id),
        ask_as(request, staff, "membership", "GET", f"/admin/api/contacts/{contact_id}/access{query}"),
    )
    shown = flash(request)
    if answer.status == 422:  # a page path that is not one: say so, show the post-login page's answer
        shown = {**shown, **{k: v for k, v in flash(request, refusal(answer)).items() if v}}
        answer = await ask_as(request, staff, "membership", "GET", f"/admin/api/contacts/{contact_id}/access")
    return await render_console(
        request, "contact_access.html", staff=staff, section="contacts", title_key="admin.access.title",
        title_values={"name": _name(contact)}, contact=contact, tab="access", access=_needed(answer),
        asked=page, **shown,
    )


@routes.post("/admin/contacts/{id}/resend-credentials")
@console
async def resend_credentials(request: web.Request, staff: Staff) -> web.Response:
    """A fresh set-password link by email; every older link stops working."""
    contact_id = _uuid(request)
    await form_with_csrf(request)
    answer = await ask_as(request, staff, "auth", "POST", f"/admin/api/contacts/{contact_id}/resend-credentials", {})
    return _back(f"/admin/contacts/{contact_id}/access", answer, "credentials_resent")
