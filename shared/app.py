"""The app factory every service uses: resources in ``cleanup_ctx``, ``/healthz`` and ``/readyz``,
graceful shutdown on SIGTERM (aiohttp stops accepting, finishes requests, then runs the cleanups in
reverse: the consumer stops and finishes what it holds, the relay publishes what is left).
"""

import asyncio
from pathlib import Path
from typing import Callable, Iterable

import asyncpg
from aiohttp import web

from shared.bus import Bus
from shared.client import http_client
from shared.consumer import Consumer, Handlers
from shared.db import create_pool, migrate
from shared.http import correlation_middleware, error_middleware
from shared.logging import get_logger
from shared.loop import freeze_start_up, new_event_loop
from shared.metrics import instrument
from shared.outbox import OutboxRelay

log = get_logger("shared.app")

SETTINGS = web.AppKey("settings", object)
POOL = web.AppKey("pool", asyncpg.Pool)
BUS = web.AppKey("bus", Bus)
RELAY = web.AppKey("relay", OutboxRelay)
CONSUMER = web.AppKey("consumer", Consumer)

Context = Callable[[web.Application], object]


def create_service_app(
    settings,
    *,
    service_dir: Path,
    routes: web.RouteTableDef | None = None,
    handlers: Handlers | None = None,
    extra_contexts: Iterable[Context] = (),
) -> web.Application:
    """A service: its schema migrated and pooled, its bus, relay and consumer, its routes."""
    app = web.Application(middlewares=[correlation_middleware, error_middleware], client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_postgres(settings, service_dir))
    app.cleanup_ctx.append(_rabbitmq(settings))
    app.cleanup_ctx.append(_outbox_relay(settings))
    app.cleanup_ctx.append(http_client)
    app.cleanup_ctx.extend(extra_contexts)
    if handlers:
        from shared import dead_letters  # its views use this module's keys

        app.cleanup_ctx.append(_consumer(settings, handlers))
        app.cleanup_ctx.append(_inbox_pruner(settings))
        app.add_routes(dead_letters.routes)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    from shared.audit import list_entries  # every service serves its audit entries (shared/audit.py)

    app.router.add_get("/admin/api/audit", list_entries)
    instrument(app, pool_of=lambda app: app[POOL])
    if routes is not None:
        app.add_routes(routes)
    return app


def _postgres(settings, service_dir: Path):
    async def ctx(app: web.Application):
        if settings.migrate_on_start:
            await migrate(settings.database_url, settings.service, service_dir)
        app[POOL] = await create_pool(settings, settings.service)
        yield
        await app[POOL].close()

    return ctx


def _rabbitmq(settings):
    async def ctx(app: web.Application):
        bus = Bus(settings)
        await bus.connect()
        app[BUS] = bus
        yield
        await bus.close()

    return ctx


def _outbox_relay(settings):
    async def ctx(app: web.Application):
        relay = OutboxRelay(settings, app[POOL], app[BUS], settings.service)
        relay.start()
        app[RELAY] = relay
        yield
        await relay.stop()

    return ctx


def _consumer(settings, handlers: Handlers):
    async def ctx(app: web.Application):
        consumer = Consumer(settings, app[POOL], app[BUS], handlers)
        await consumer.start()
        app[CONSUMER] = consumer
        yield
        await consumer.stop()

    return ctx


def _inbox_pruner(settings):
    async def ctx(app: web.Application):
        from shared.inbox import InboxPruner

        pruner = InboxPruner(settings, app[POOL])
        pruner.start()
        yield
        await pruner.stop()

    return ctx


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers. Never checks dependencies (that is /readyz)."""
    return web.json_response({"status": "ok", "service": request.app[SETTINGS].service})


async def readyz(request: web.Request) -> web.Response:
    """Ready: the database answers and the broker connection is open."""
    checks = {"database": False, "broker": request.app[BUS].ready}
    try:
        async with asyncio.timeout(2):
            async with request.app[POOL].acquire() as conn:
                checks["database"] = await conn.fetchval("SELECT true")
    except Exception as exc:
        log.warning("readyz.database_unavailable", error=str(exc))
    ready = all(checks.values())
    return web.json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


async def _frozen(app: web.Application) -> None:
    freeze_start_up()


def run(app: web.Application, settings) -> None:
    """Serve until SIGTERM or SIGINT; then shut down gracefully."""
    app.on_startup.append(_frozen)  # last: after the pools, the broker and the workers started
    loop = new_event_loop(settings)
    log.info(
        "service.starting", service=settings.service, host=settings.host, port=settings.port,
        loop=type(loop).__module__.split(".")[0],
    )
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        shutdown_timeout=settings.shutdown_timeout,
        handle_signals=True,
        loop=loop,
    )
    log.info("service.stopped", service=settings.service)
