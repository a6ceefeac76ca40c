from aiohttp import web

from services.gateway.admin import routes as admin
from services.gateway import api_auth, api_billing, api_membership, api_notify, api_ops, embed, http, openapi
from services.gateway.identity import identity_caches
from services.gateway.pages import STATIC, security_headers
from services.gateway.web import center, checkout, public
from services.gateway.web.common import page_errors
from services.gateway.web.session import session_cookies, web_state
from services.gateway.web.sites import site_state
from services.gateway.settings import GatewaySettings
from services.gateway.upstream import client_session
from shared.app import SETTINGS
from shared.http import correlation_middleware, error_middleware
from shared.metrics import instrument


def create_app(settings: GatewaySettings) -> web.Application:
    """The gateway has no database and no broker: it verifies and forwards.

    Each area's routes live in their own module (``api_<service>.py``).
    """
    # session_cookies sits outside error_middleware: renewed tokens reach the browser with errors too.
    app = web.Application(middlewares=[correlation_middleware, security_headers, session_cookies, error_middleware, page_errors])
    app[SETTINGS] = settings
    app.cleanup_ctx.extend([client_session, identity_caches, web_state, site_state])
    for module in (http, api_auth, api_membership, api_billing, api_notify, api_ops, public, center, checkout, admin,
                   openapi):
        app.add_routes(module.routes)
    app.router.add_static("/static", STATIC, name="static")
    embed.setup(app)
    instrument(app)
    return app
