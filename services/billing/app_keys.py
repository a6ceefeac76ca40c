from aiohttp import web

from services.billing.run import BillingRun

PROCESSOR = web.AppKey("processor", object)
BILLING_RUN = web.AppKey("billing_run", BillingRun)
