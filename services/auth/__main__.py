from services.auth.app import create_app
from services.auth.settings import AuthSettings
from shared.app import run
from shared.logging import configure_logging

settings = AuthSettings()
configure_logging(settings)
run(create_app(settings), settings)
