from services.notify.app import create_app
from services.notify.settings import NotifySettings
from shared.app import run
from shared.logging import configure_logging

settings = NotifySettings()
configure_logging(settings)
run(create_app(settings), settings)
