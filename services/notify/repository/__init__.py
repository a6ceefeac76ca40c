"""Every SQL statement of notify, by subject; each function takes the connection first."""

from services.notify.repository.messages import *  # noqa: F401,F403
from services.notify.repository.sequences import *  # noqa: F401,F403
from services.notify.repository.site_settings import *  # noqa: F401,F403
from services.notify.repository.webhooks import *  # noqa: F401,F403
