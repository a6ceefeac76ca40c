from pathlib import Path

from aiohttp import web

from services.auth.handlers import make_handlers
from services.auth.http import routes
from services.auth.keys import load_or_create
from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings
from services.auth.state import JWKS, PASSWORDS, SIGNING_KEY
from shared.app import POOL, create_service_app


def create_app(settings: AuthSettings) -> web.Application:
    async def auth_state(app: web.Application):
        app[PASSWORDS] = Passwords(settings)
        async with app[POOL].acquire() as conn:
            app[SIGNING_KEY], app[JWKS] = await load_or_create(conn)
        yield
        app[PASSWORDS].close()

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        routes=routes,
        handlers=make_handlers(settings),
        extra_contexts=[auth_state],
    )
