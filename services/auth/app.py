import asyncio
import contextlib
from pathlib import Path

from aiohttp import web

from services.auth import repository as repo
from services.auth.handlers import make_handlers
from services.auth.http import routes
from services.auth.keys import current_key
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from services.auth.state import KEYRING, PASSWORDS, THROTTLE, KeyRing
from services.auth.throttle import Throttle
from shared.app import POOL, create_service_app
from shared.logging import get_logger

log = get_logger("auth.app")


def create_app(settings: AuthSettings) -> web.Application:
    async def auth_state(app: web.Application):
        app[PASSWORDS] = Passwords(settings)
        app[THROTTLE] = Throttle(settings)
        async with app[POOL].acquire() as conn:
            app[KEYRING] = KeyRing(await current_key(conn))
        reloader = asyncio.create_task(_follow_rotations(app, settings.signing_key_reload_seconds))
        sweeper = asyncio.create_task(_forget_old_failures(app, settings))
        yield
        for task in (reloader, sweeper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app[PASSWORDS].close()

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        routes=routes,
        handlers=make_handlers(settings),
        extra_contexts=[auth_state],
    )


async def _follow_rotations(app: web.Application, every: float) -> None:
    """A key added by ``python -m services.auth rotate-key`` signs from the next check on."""
    ring = app[KEYRING]
    while True:
        await asyncio.sleep(every)
        try:
            async with app[POOL].acquire() as conn:
                key = await current_key(conn)
        except Exception as exc:  # the database away for a moment: keep signing with the key we have
            log.warning("signing_key.reload_failed", error=type(exc).__name__)
            continue
        if key.kid != ring.current.kid:
            log.info("signing_key.rotated", kid=key.kid, previous=ring.current.kid)
            ring.current = key


async def _forget_old_failures(app: web.Application, settings: AuthSettings) -> None:
    """Failed-login counts of names nobody tries any more would pile up: drop them every few minutes."""
    while True:
        await asyncio.sleep(300)
        try:
            async with app[POOL].acquire() as conn:
                if dropped := await repo.forget_old_failures(conn, settings.login_window_seconds):
                    log.info("throttle.forgotten", keys=dropped)
        except Exception as exc:
            log.warning("throttle.sweep_failed", error=type(exc).__name__)
