from pathlib import Path

from aiohttp import web

from services.billing.http import routes
from services.billing.settings import BillingSettings
from shared.app import create_service_app


def create_app(settings: BillingSettings) -> web.Application:
    return create_service_app(settings, service_dir=Path(__file__).parent, routes=routes)
