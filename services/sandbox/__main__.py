from services.sandbox.app import create_app
from services.sandbox.settings import SandboxSettings
from shared.app import run
from shared.logging import configure_logging

settings = SandboxSettings()
configure_logging(settings)
run(create_app(settings), settings)
