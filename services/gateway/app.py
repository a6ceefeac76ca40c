from aiohttp import web

from services.gateway import api_auth, api_billing, api_membership, api_notify, embed, http, openapi
from services.gateway.identity import identity_caches
from services.gateway.pages import security_headers
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import client_session
from shared.app import SETTINGS
from shared.http import correlation_middleware, error_middleware
from shared.metrics import instrument


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway has no database and no broker: it verifies and forwards.

    Each area's routes live in their own module (``api_<service>.py``).
    """
    app = web.Application(middlewares=[correlation_middleware, security_headers, error_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([client_session, identity_caches])
    for module in (http, api_auth, api_membership, api_billing, api_notify, openapi):
        app.add_routes(module.routes)
    embed.setup(app)
    instrument(app)
    return app
