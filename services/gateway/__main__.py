from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.app import run
from shared.logging import configure_logging

settings = GatewaySettings()
configure_logging(settings)
run(create_app(settings), settings)
