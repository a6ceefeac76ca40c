from aiohttp import web

from services.gateway.http import routes
from services.gateway.pages import security_headers
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import client_session
from shared.app import SETTINGS
from shared.http import correlation_middleware, error_middleware


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway has no database and no broker: it verifies and forwards."""
    app = web.Application(middlewares=[correlation_middleware, security_headers, error_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(client_session)
    app.add_routes(routes)
    return app
