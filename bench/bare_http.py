"""The API benchmark's baseline: a bare aiohttp JSON handler, one process (as each service is one)."""

import sys

from aiohttp import web


async def handler(request: web.Request) -> web.Response:
    return web.json_response({"items": [{"id": "00000000-0000-0000-0000-000000000000", "status": "active"}]})


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[2] == "uvloop":
        import uvloop

        uvloop.install()
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
