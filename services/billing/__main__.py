from services.billing.app import create_app
from services.billing.settings import BillingSettings
from shared.app import run
from shared.logging import configure_logging

settings = BillingSettings()
configure_logging(settings)
run(create_app(settings), settings)
