"""``GET /openapi.json``: the gateway's public contract (OpenAPI 3.1), built from the operations in
``operations.py`` and the services' own pydantic models, so it follows the code."""

import functools

from aiohttp import web

routes = web.RouteTableDef()

DESCRIPTION = (
    "The public HTTP contract of Customer Center. Errors, everywhere: a 4xx/5xx status and "
    '`{"error": {"code": "<stable_snake_case>", "message": "<for a person>", "details": {...}}}`. '
    "Money is `{\"amount\": <integer minor units>, \"currency\": \"USD\"}`; times are ISO 8601 UTC. "
    "Another contact's or another site's object is always 404: its existence is never revealed."
)


@functools.cache
def document() -> dict:
    from services.gateway.openapi.builder import build
    from services.gateway.openapi.operations import OPERATIONS

    return build(OPERATIONS, title="Customer Center", version="1.0.0", description=DESCRIPTION)


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})
