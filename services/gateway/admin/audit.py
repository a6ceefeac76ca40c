"""The audit log, merged: every service keeps the entries of the actions it carried out (in the
same transaction as the action, ``shared/audit.py``); the gateway asks them all and merges the
answers newest first. ``GET /admin/api/audit`` (admin API key) and the console's ``/admin/audit``
and contact record show the same entries."""

import asyncio
from urllib.parse import urlencode

from aiohttp import web

from services.gateway.admin.console import console, render_console
from services.gateway.identity import authenticate_admin
from services.gateway.upstream import call
from services.gateway.web.common import Answer
from shared.audit import parse_query
from shared.errors import InvalidRequest, ServiceUnavailable
from shared.identity import AdminSite
from shared.logging import get_logger

log = get_logger("gateway.audit")
routes = web.RouteTableDef()
AUDITED = ("membership", "billing", "auth", "notify")


async def merged_entries(request: web.Request, admin: AdminSite, *, contact_id=None, before=None,
                         limit: int = 50) -> tuple[list[dict], list[str]]:
    """(the newest ``limit`` entries of every service, the services that could not answer)."""
    query = urlencode({k: v for k, v in (("contact_id", contact_id), ("before", before and before.isoformat()),
                                         ("limit", limit)) if v})

    async def one(service: str) -> list[dict] | None:
        try:
            status, payload, _ = await asyncio.wait_for(
                call(request, service, "GET", f"/admin/api/audit?{query}", identity=admin.headers()), timeout=5
            )
        except (ServiceUnavailable, asyncio.TimeoutError):
            return None
        answer = Answer(status, payload)
        if not answer.ok:
            log.warning("audit.source_failed", service=service, status=status)
            return None
        return [dict(entry, service=service) for entry in answer.body["entries"]]

    answers = await asyncio.gather(*(one(s) for s in AUDITED))
    missing = [s for s, a in zip(AUDITED, answers) if a is None]
    merged = sorted((e for a in answers if a for e in a), key=lambda e: e["at"], reverse=True)[:limit]
    return merged, missing


def next_before(entries: list[dict], limit: int) -> str | None:
    return entries[-1]["at"] if len(entries) == limit else None


@routes.get("/admin/api/audit")
async def audit_api(request: web.Request) -> web.Response:
    """Every service's entries of the key's site, newest first; 503 naming a service that cannot answer."""
    admin = await authenticate_admin(request)
    contact_id, before, limit = parse_query(request.query)
    entries, missing = await merged_entries(request, admin, contact_id=contact_id, before=before, limit=limit)
    if missing:
        raise ServiceUnavailable(f"The {missing[0]} service is unavailable. Try again shortly.",
                                 details={"service": missing[0]})
    return web.json_response({"entries": entries, "next_before": next_before(entries, limit)})


@routes.get("/admin/audit")
@console
async def audit_page(request: web.Request, staff) -> web.Response:
    try:
        contact_id, before, limit = parse_query(request.query)
    except InvalidRequest:
        contact_id, before, limit = None, None, 50
    entries, missing = await merged_entries(request, staff.admin, contact_id=contact_id, before=before, limit=limit)
    more = next_before(entries, limit)
    return await render_console(
        request, "audit.html", staff=staff, section="audit", title_key="admin.audit.title", entries=entries,
        missing=missing, older=f"/admin/audit?{urlencode({'before': more, **({'contact_id': str(contact_id)} if contact_id else {})})}" if more else None,
    )
