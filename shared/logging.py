"""structlog, with the standard library's records (aiohttp, asyncpg, ...) in the same format:
JSON for machines, console for people.

Messages are dotted event names with fields. Log ids, never payloads.

Our own lines go from structlog straight to the stream (a level filter first, then the processors
and the renderer): the standard library's path (a ``LogRecord`` made twice per line, handlers,
locks) was most of a line's cost, and the services write a few lines per event they handle. Other
libraries' records still go through a ``logging`` handler that renders them the same way.
"""

import logging
import sys

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, merge_contextvars

__all__ = ["configure_logging", "bind_contextvars", "clear_contextvars", "get_logger"]


def configure_logging(settings, stream=None) -> None:
    """Services log to stdout; a command whose stdout is its answer passes ``stream=sys.stderr``."""
    out = stream or sys.stdout
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    shared = [
        merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    level = logging.getLevelName(settings.log_level.upper())
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=lambda *args: _NamedWriteLogger(out, args[0] if args else ""),
        wrapper_class=structlog.make_filtering_bound_logger(level if isinstance(level, int) else logging.INFO),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("aiormq", "aio_pika", "asyncio", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


class _NamedWriteLogger(structlog.WriteLogger):
    """Writes each line to the stream (under a lock per stream); ``name`` is the line's ``logger``."""

    def __init__(self, file, name: str) -> None:
        super().__init__(file)
        self.name = name


def get_logger(name: str):
    """A logger whose lines carry ``"logger": name`` (resolved at first use, after configuration)."""
    return structlog.get_logger(name)
