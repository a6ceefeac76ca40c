import asyncio
from pathlib import Path

from aiohttp import web

from services.notify.delivery import Delivery, ExpressLane
from services.notify.handlers import make_handlers, webhook_handlers
from services.notify.http import routes
from services.notify.sequences import SequenceScheduler
from services.notify.settings import NotifySettings
from services.notify.sites import SITES, SiteNames
from services.notify.webhooks import bindings
from services.notify.webhooks.delivery import WebhookDelivery
from shared.app import BUS, POOL, create_service_app
from shared.consumer import Consumer
from shared.logging import get_logger

log = get_logger("notify.app")

DELIVERY = web.AppKey("delivery", Delivery)
WEBHOOK_CONSUMER = web.AppKey("webhook_consumer", Consumer)
WEBHOOKS = web.AppKey("webhooks", WebhookDelivery)
SEQUENCES = web.AppKey("sequences", SequenceScheduler)


async def _reconcile(found: bindings.WebhookBindings) -> None:
    try:
        await found.reconcile()
    except Exception as exc:  # the next reconnection (or start) tries again
        log.warning("webhooks.reconcile_failed", error=repr(exc))


def create_app(settings: NotifySettings) -> web.Application:
    sites = SiteNames(settings)
    express = ExpressLane()

    async def site_names(app: web.Application):
        app[SITES] = sites
        yield
        await sites.close()

    async def webhook_events(app: web.Application):
        """The webhooks' own queue and consumer, bound to the event types endpoints want; the sink that
        keeps every event routable; and the ``#`` binding of notify's queue from before, removed."""
        bus = app[BUS]
        await bus.declare_unrouted_sink()
        app[bindings.BINDINGS] = found = bindings.WebhookBindings(settings, app[POOL], bus)
        consumer = Consumer(settings, app[POOL], bus, webhook_handlers(), queue=found.queue, routing_keys=[])
        await consumer.start()
        await found.reconcile()
        await bus.declare_service_queue([])  # as notify's consumer declares it (it starts after this)
        await bus.unbind(settings.queue_name, ["#"])
        app[WEBHOOK_CONSUMER] = consumer
        # After a reconnection the broker may have lost what it had (a new node): aio-pika declares
        # the queues again; the endpoints' bindings are made again from the table.
        reconciling: set[asyncio.Task] = set()

        def reconcile_after_reconnect(*_) -> None:
            task = asyncio.get_running_loop().create_task(_reconcile(found))
            reconciling.add(task)
            task.add_done_callback(reconciling.discard)

        bus.connection.reconnect_callbacks.add(reconcile_after_reconnect)
        yield
        bus.connection.reconnect_callbacks.discard(reconcile_after_reconnect)
        await consumer.stop()

    def worker(key, make):
        async def ctx(app: web.Application):
            app[key] = make(app[POOL])
            app[key].start()
            yield
            await app[key].stop()

        return ctx

    async def delivery(app: web.Application):
        app[DELIVERY] = express.delivery = Delivery(settings, app[POOL])
        express.delivery.start()
        yield
        express.delivery = None  # what is queued from now on waits for the next start
        await app[DELIVERY].stop()

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        routes=routes,
        handlers=make_handlers(settings, sites, express),
        extra_contexts=[
            site_names,
            webhook_events,
            delivery,
            worker(WEBHOOKS, lambda pool: WebhookDelivery(settings, pool)),
            worker(SEQUENCES, lambda pool: SequenceScheduler(settings, pool, sites)),
        ],
    )
