"""The event loop every process runs on, chosen by ``CC_UVLOOP``. Its own module so that a command
that needs only a loop (``billing-run --direct``) does not import the app factory's aiohttp server,
broker client and consumer."""

import asyncio

from shared.logging import get_logger

log = get_logger("shared.loop")


def new_event_loop(settings) -> asyncio.AbstractEventLoop:
    """uvloop when the setting is on and it is installed, asyncio's own loop otherwise."""
    if settings.uvloop:
        try:
            import uvloop
        except ImportError:
            log.warning("service.uvloop_unavailable")
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()
