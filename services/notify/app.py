from pathlib import Path

from aiohttp import web

from services.notify.delivery import Delivery
from services.notify.handlers import make_handlers
from services.notify.http import routes
from services.notify.sequences import SequenceScheduler
from services.notify.settings import NotifySettings
from services.notify.sites import SITES, SiteNames
from services.notify.webhooks.delivery import WebhookDelivery
from shared.app import POOL, create_service_app

DELIVERY = web.AppKey("delivery", Delivery)
WEBHOOKS = web.AppKey("webhooks", WebhookDelivery)
SEQUENCES = web.AppKey("sequences", SequenceScheduler)


def create_app(settings: NotifySettings) -> web.Application:
    sites = SiteNames(settings)

    async def site_names(app: web.Application):
        app[SITES] = sites
        yield
        await sites.close()

    def worker(key, make):
        async def ctx(app: web.Application):
            app[key] = make(app[POOL])
            app[key].start()
            yield
            await app[key].stop()

        return ctx

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        routes=routes,
        handlers=make_handlers(settings, sites),
        extra_contexts=[
            site_names,
            worker(DELIVERY, lambda pool: Delivery(settings, pool)),
            worker(WEBHOOKS, lambda pool: WebhookDelivery(settings, pool)),
            worker(SEQUENCES, lambda pool: SequenceScheduler(settings, pool, sites)),
        ],
    )
