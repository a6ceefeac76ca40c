from pathlib import Path

import aiohttp
from aiohttp import web

from services.billing.app_keys import BILLING_RUN, PROCESSOR
from services.billing.handlers import HANDLERS
from services.billing.http import routes
from services.billing.processor import PaymentProcessor
from services.billing.processor.sandbox import SandboxProcessor
from services.billing.run import BillingRun, scheduled_billing_run
from services.billing.settings import BillingSettings
from shared.app import POOL, create_service_app



def create_app(settings: BillingSettings, processor: PaymentProcessor | None = None) -> web.Application:
    """``processor``: the payment processor adapter; the sandbox at ``CC_SANDBOX_URL`` by default."""

    async def payment_processor(app: web.Application):
        session = None
        if processor is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30))
            app[PROCESSOR] = SandboxProcessor(settings.sandbox_url, session)
        else:
            app[PROCESSOR] = processor
        app[BILLING_RUN] = BillingRun(app[POOL], app[PROCESSOR], settings)
        yield
        if session is not None:
            await session.close()

    return create_service_app(
        settings,
        service_dir=Path(__file__).parent,
        routes=routes,
        handlers=HANDLERS,
        extra_contexts=[payment_processor, scheduled_billing_run],
    )
