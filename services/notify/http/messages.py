"""``GET /admin/api/messages``: what was sent or held, and why. Never bodies or links."""

from aiohttp import web

from services.notify import repository as repo
from services.notify.http.common import iso, next_cursor, page, query_uuid
from shared.app import POOL
from shared.identity import admin_site_of

routes = web.RouteTableDef()


@routes.get("/admin/api/messages")
async def list_messages(request: web.Request) -> web.Response:
    site_id = admin_site_of(request).site_id
    contact_id = query_uuid(request, "contact_id")
    after, limit = page(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repo.list_messages(conn, site_id=site_id, contact_id=contact_id, after=after, limit=limit)
    return web.json_response(
        {
            "messages": [
                {
                    "id": str(r["id"]),
                    "template": r["template"],
                    "contact_id": str(r["contact_id"]) if r["contact_id"] else None,
                    "to": r["to_address"],
                    "subject": r["subject"],
                    "status": r["status"],
                    "reason": r["reason"],
                    "attempts": r["attempts"],
                    "created_at": iso(r["created_at"]),
                    "sent_at": iso(r["sent_at"]),
                    "sequence": {"enrolment_id": str(r["enrolment_id"]), "step": r["step"]} if r["enrolment_id"] else None,
                }
                for r in rows
            ],
            "next_cursor": next_cursor(rows, limit),
        }
    )
