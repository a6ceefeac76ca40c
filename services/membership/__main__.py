from services.membership.app import create_app
from services.membership.settings import MembershipSettings
from shared.app import run
from shared.logging import configure_logging

settings = MembershipSettings()
configure_logging(settings)
run(create_app(settings), settings)
