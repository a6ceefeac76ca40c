from services.notify.app import create_app
from services.notify.settings import NotifySettings
from shared.app import run
from shared.logging import configure_logging
from shared.sealing import require_link_keys

settings = NotifySettings()
require_link_keys(settings)  # notify opens the sealed links of welcome and reset emails
configure_logging(settings)
run(create_app(settings), settings)
