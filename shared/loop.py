"""The event loop every process runs on, chosen by ``CC_UVLOOP``. Its own module so that a command
that needs only a loop (``billing-run --direct``) does not import the app factory's aiohttp server,
broker client and consumer."""

import asyncio
import gc

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


# Young objects are collected after this many more allocations than frees (Python's default: 700).
GC_YOUNG_THRESHOLD = 50_000


def freeze_start_up() -> None:
    """Once a process has started (imports, settings, pools): what start-up made lives as long as the
    process, so the cyclic collector stops walking it (``gc.freeze``), and the young generation is
    collected after ``GC_YOUNG_THRESHOLD`` net allocations instead of 700. Nearly everything a request,
    an event or a billed subscription allocates is freed by its reference count; the collector was
    mostly re-walking start-up's objects. Measured in the billing run (docs/performance.md, "Sixth
    pass"): 22-35 µs of CPU per subscription went to collections, 350 of them per 10,000."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
