"""Admin: the site's API keys. Only a SHA-256 of a key is stored, so the key itself is in the answer
that creates it and never again; listing shows labels and dates. (Owner only in the console.)"""

import uuid

from aiohttp import web

from services.membership import repository as repo
from services.membership.domain import key_hash, new_key
from services.membership.http.common import connection, path_id
from shared import audit
from services.membership.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from shared.errors import Forbidden, NotFound
from shared.http import json_response, read_body
from shared.identity import AdminSite, admin_site_of
from shared.logging import get_logger

log = get_logger("membership.keys")
routes = web.RouteTableDef()


def owner_of(request: web.Request) -> AdminSite:
    """An API key acts for the site's owner; a staff member must be one (the console checks it too)."""
    admin = admin_site_of(request)
    if admin.actor.kind == "staff" and admin.actor.role != "owner":
        raise Forbidden("Only the site's owner can manage API keys.")
    return admin


@routes.get("/admin/api/api-keys")
async def list_keys(request: web.Request) -> web.Response:
    site_id = owner_of(request).site_id
    async with connection(request) as conn:
        rows = await repo.api_keys_of_site(conn, site_id)
    return json_response(ApiKeyList(api_keys=[ApiKeyOut(**dict(r)) for r in rows]))


@routes.post("/admin/api/api-keys")
async def create_key(request: web.Request) -> web.Response:
    admin = owner_of(request)
    body = await read_body(request, ApiKeyCreate)
    key, key_id = new_key(), uuid.uuid4()
    async with connection(request) as conn, conn.transaction():
        await repo.put_api_key(conn, key_id=key_id, site_id=admin.site_id, key_hash=key_hash(key), label=body.label)
        row = await repo.api_key(conn, admin.site_id, key_id)
        await audit.record(conn, admin, "api_key.created", "api_key", key_id, after=row)  # never the key
    log.info("api_key.created", key_id=str(key_id))
    return json_response(ApiKeyCreated(**dict(row), key=key), status=201)


@routes.delete("/admin/api/api-keys/{key_id}")
async def revoke_key(request: web.Request) -> web.Response:
    """Gone at once here; a gateway that cached the key refuses it within a minute (at once for the
    gateway that served this call)."""
    admin = owner_of(request)
    key_id = path_id(request, "key_id")
    async with connection(request) as conn, conn.transaction():
        before = await repo.api_key(conn, admin.site_id, key_id)
        if before is None or not await repo.delete_api_key(conn, admin.site_id, key_id):
            raise NotFound("No such API key.")
        await audit.record(conn, admin, "api_key.revoked", "api_key", key_id, before=before)
    log.info("api_key.revoked", key_id=str(key_id))
    return web.Response(status=204)
