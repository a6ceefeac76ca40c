from pathlib import Path

from aiohttp import web

from services.notify.delivery import Delivery
from services.notify.handlers import make_handlers
from services.notify.settings import NotifySettings
from shared.app import POOL, create_service_app

DELIVERY = web.AppKey("delivery", Delivery)


def create_app(settings: NotifySettings) -> web.Application:
    async def delivery(app: web.Application):
        app[DELIVERY] = Delivery(settings, app[POOL])
        app[DELIVERY].start()
        yield
        await app[DELIVERY].stop()

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        handlers=make_handlers(settings),
        extra_contexts=[delivery],
    )
