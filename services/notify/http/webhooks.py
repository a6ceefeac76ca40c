"""Outgoing webhooks: a site's endpoints, their delivery log, replay."""

import uuid

from aiohttp import web

from services.notify import repository as repo
from services.notify.http.common import iso, next_cursor, page, path_id
from services.notify.schemas import WebhookBody, WebhookPatch
from services.notify.webhooks import bindings
from services.notify.webhooks.bindings import BINDINGS
from services.notify.webhooks.signing import new_secret
from shared import audit
from shared.app import POOL
from shared.errors import NotFound
from shared.http import read_body
from shared.identity import admin_site_of

routes = web.RouteTableDef()


def _endpoint(row, secret: str | None = None) -> dict:
    view = {
        "id": str(row["id"]),
        "url": row["url"],
        "event_types": list(row["event_types"]),
        "active": row["active"],
        "created_at": iso(row["created_at"]),
    }
    if secret is not None:
        view["secret"] = secret  # shown once, when the endpoint is made
    return view


def _wanted_by(row) -> set[str]:
    return set(row["event_types"]) if row["active"] else set()


async def _owned(conn, request: web.Request):
    row = await repo.endpoint(conn, admin_site_of(request).site_id, path_id(request, "id"))
    if row is None:
        raise NotFound()
    return row


@routes.post("/admin/api/webhooks")
async def create_endpoint(request: web.Request) -> web.Response:
    admin = admin_site_of(request)
    body = await read_body(request, WebhookBody)
    secret = new_secret()
    async with request.app[POOL].acquire() as conn, conn.transaction():
        # Bound before the commit: every event published once the endpoint exists reaches its queue.
        await request.app[BINDINGS].bind_before_commit(conn, body.event_types)
        row = await repo.create_endpoint(
            conn, endpoint_id=uuid.uuid4(), site_id=admin.site_id, url=body.url, event_types=body.event_types, secret=secret
        )
        await audit.record(conn, admin, "webhook.created", "webhook", row["id"], after=_endpoint(row))  # not its secret
    return web.json_response(_endpoint(row, secret), status=201)


@routes.get("/admin/api/webhooks")
async def list_endpoints(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        rows = await repo.endpoints_of_site(conn, admin_site_of(request).site_id)
    return web.json_response({"webhooks": [_endpoint(r) for r in rows]})


@routes.get("/admin/api/webhooks/{id}")
async def get_endpoint(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        return web.json_response(_endpoint(await _owned(conn, request)))


@routes.patch("/admin/api/webhooks/{id}")
async def update_endpoint(request: web.Request) -> web.Response:
    body = await read_body(request, WebhookPatch)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await bindings.lock(conn)  # first: the endpoint as no other change of bindings can alter it now
        before = await _owned(conn, request)
        active = before["active"] if body.active is None else body.active
        types = list(before["event_types"]) if body.event_types is None else body.event_types
        # Bound before the commit: every event published once the change is visible reaches its queue.
        await request.app[BINDINGS].bind_before_commit(conn, types if active else [])
        row = await repo.update_endpoint(
            conn,
            admin_site_of(request).site_id,
            path_id(request, "id"),
            url=body.url,
            event_types=body.event_types,
            active=body.active,
        )
        if row is None:
            raise NotFound()
        await audit.record(conn, admin_site_of(request), "webhook.updated", "webhook", row["id"],
                           before=_endpoint(before), after=_endpoint(row))
    if before["active"]:
        await request.app[BINDINGS].unbind_unwanted(set(before["event_types"]) - _wanted_by(row))
    return web.json_response(_endpoint(row))


@routes.delete("/admin/api/webhooks/{id}")
async def delete_endpoint(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn, conn.transaction():
        before = await _owned(conn, request)
        if not await repo.delete_endpoint(conn, admin_site_of(request).site_id, before["id"]):
            raise NotFound()
        await audit.record(conn, admin_site_of(request), "webhook.deleted", "webhook", before["id"], before=_endpoint(before))
    await request.app[BINDINGS].unbind_unwanted(before["event_types"] if before["active"] else [])
    return web.Response(status=204)


@routes.get("/admin/api/webhooks/{id}/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """The delivery log: each event sent to the endpoint, its outcome, and every attempt."""
    after, limit = page(request)
    async with request.app[POOL].acquire() as conn:
        endpoint = await _owned(conn, request)
        rows = await repo.deliveries_of(conn, endpoint["id"], after=after, limit=limit)
        attempts = await repo.attempts_of(conn, [r["id"] for r in rows])
    return web.json_response(
        {
            "deliveries": [
                {
                    "id": str(r["id"]),
                    "event_id": str(r["event_id"]),
                    "event_type": r["event_type"],
                    "status": r["status"],
                    "attempts": [
                        {"n": a["n"], "at": iso(a["attempted_at"]), "status_code": a["status_code"], "error": a["error"], "duration_ms": a["duration_ms"]}
                        for a in attempts[r["id"]]
                    ],
                    "last_status_code": r["last_status"],
                    "last_error": r["last_error"],
                    "next_attempt_at": iso(r["next_attempt_at"]) if r["status"] == "pending" else None,
                    "created_at": iso(r["created_at"]),
                    "delivered_at": iso(r["delivered_at"]),
                }
                for r in rows
            ],
            "next_cursor": next_cursor(rows, limit),
        }
    )


@routes.post("/admin/api/webhooks/{id}/deliveries/{delivery_id}/replay")
async def replay(request: web.Request) -> web.Response:
    """Send this delivery again now (whatever its outcome was), with a fresh day of retries."""
    async with request.app[POOL].acquire() as conn, conn.transaction():
        endpoint = await _owned(conn, request)
        delivery_id = path_id(request, "delivery_id")
        if not await repo.replay(conn, endpoint["id"], delivery_id):
            raise NotFound()
        await audit.record(conn, admin_site_of(request), "webhook_delivery.replayed", "webhook_delivery", delivery_id,
                           after={"webhook_id": endpoint["id"], "status": "pending"})
    return web.json_response({"status": "pending"}, status=202)
