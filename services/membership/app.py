from pathlib import Path

from aiohttp import web

from services.membership.handlers import HANDLERS
from services.membership.http import routes
from services.membership.settings import MembershipSettings
from shared.app import create_service_app


def create_app(settings: MembershipSettings) -> web.Application:
    return create_service_app(settings, service_dir=Path(__file__).parent, routes=routes, handlers=HANDLERS)
