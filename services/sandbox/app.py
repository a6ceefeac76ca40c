"""A light app: the sandbox has a database of its own but no bus (it publishes and consumes no events)."""

import asyncio
from pathlib import Path

from aiohttp import web

from services.sandbox.http import routes
from services.sandbox.settings import SandboxSettings
from shared.app import POOL, SETTINGS, healthz
from shared.db import create_pool, migrate
from shared.http import correlation_middleware, error_middleware
from shared.metrics import instrument


def create_app(settings: SandboxSettings) -> web.Application:
    app = web.Application(middlewares=[correlation_middleware, error_middleware], client_max_size=1024 * 1024)  # a batch of charges
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_postgres)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.add_routes(routes)
    instrument(app)
    return app


async def _postgres(app: web.Application):
    settings = app[SETTINGS]
    if settings.migrate_on_start:
        await migrate(settings.database_url, settings.service, Path(__file__).parent)
    app[POOL] = await create_pool(settings, settings.service)
    yield
    await app[POOL].close()


async def readyz(request: web.Request) -> web.Response:
    ready = False
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                ready = bool(await conn.fetchval("SELECT true"))
    except Exception:
        ready = False
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": {"database": ready}}, status=200 if ready else 503
    )
