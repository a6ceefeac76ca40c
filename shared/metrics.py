"""Prometheus metrics: every service serves them at ``GET /metrics`` (text exposition format).

One process is one service, so the process-wide default registry is the service's registry and no
``service`` label is needed (Prometheus adds ``job`` and ``instance`` when it scrapes).

What each service gets for free from ``create_service_app`` (and the gateway from ``instrument``):

- ``cc_http_request_duration_seconds{method, route, status}``: a histogram per route *pattern*
  (``/api/invoices/{id}``, never the raw path, so ids do not explode the series).
- ``cc_events_published_total{event_type}``: events the outbox relay published (broker confirmed).
- ``cc_events_unroutable_total{event_type}``: publishes the broker returned (no queue bound).
- ``cc_events_consumed_total{event_type, outcome}``: messages the consumer finished;
  ``outcome`` is ``processed`` (acked), ``retried`` (a handler failed, nacked for redelivery) or
  ``dead_lettered`` (poison, or the failure that reached the delivery limit).
- ``cc_events_dead_lettered_total{event_type, reason}``: ``reason`` is ``poison`` or ``delivery_limit``.
- ``cc_outbox_pending`` and ``cc_outbox_lag_seconds``: rows waiting in the service's outbox and the
  age of the oldest one, read from the database at each scrape.

Counters that belong to one service's domain, for its owner to increment where the thing happens:

- ``BILLING_CHARGES.labels(result="succeeded" | "declined" | "failed").inc()``
  (``cc_billing_charges_total{result}``), one per charge attempt at the payment processor;
- ``EMAILS_SENT.labels(lane="express" | "worker").inc()`` (``cc_emails_sent_total{lane}``) once the SMTP
  server accepted a message, by who sent it (services/notify/delivery.py);
- ``EMAILS_HELD.labels(reason="blank_field" | "rejected" | ...).inc()`` (``cc_emails_held_total{reason}``)
  when a message is held. Keep label values to a small fixed set: never an address or an id.
"""

import asyncio
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from shared.logging import get_logger

log = get_logger("shared.metrics")

HTTP_REQUEST_SECONDS = Histogram(
    "cc_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS_PUBLISHED = Counter(
    "cc_events_published_total", "Events the outbox relay published and the broker confirmed.", ["event_type"]
)
EVENTS_UNROUTABLE = Counter(
    "cc_events_unroutable_total", "Publishes returned by the broker because no queue was bound.", ["event_type"]
)
EVENTS_CONSUMED = Counter(
    "cc_events_consumed_total",
    "Messages the consumer finished, by outcome: processed, retried or dead_lettered.",
    ["event_type", "outcome"],
)
EVENTS_DEAD_LETTERED = Counter(
    "cc_events_dead_lettered_total",
    "Messages sent to the service's dead-letter queue: poison, or failing at the delivery limit.",
    ["event_type", "reason"],
)
OUTBOX_PENDING = Gauge("cc_outbox_pending", "Events committed to the outbox and not yet published.")
OUTBOX_LAG_SECONDS = Gauge("cc_outbox_lag_seconds", "Age of the oldest event waiting in the outbox (0 when empty).")

BILLING_CHARGES = Counter("cc_billing_charges_total", "Charge attempts at the payment processor, by result.", ["result"])
EMAILS_SENT = Counter("cc_emails_sent_total", "Emails the SMTP server accepted, by lane (express, worker).", ["lane"])
EMAILS_HELD = Counter("cc_emails_held_total", "Emails held and not sent, by reason.", ["reason"])

_REQUEST_TIMERS: dict[tuple[str, str, int], object] = {}  # labels() once per (method, route, status)
_OUTBOX_STATE = "SELECT count(*) AS pending, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0) AS lag FROM outbox"


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    """Time every request; the label is the matched route's pattern (``unmatched`` for a 404)."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        key = (request.method, route, status)
        timer = _REQUEST_TIMERS.get(key)
        if timer is None:
            timer = _REQUEST_TIMERS[key] = HTTP_REQUEST_SECONDS.labels(request.method, route, str(status))
        timer.observe(time.perf_counter() - started)


def instrument(app: web.Application, pool_of=None) -> None:
    """Time the app's requests and serve ``GET /metrics``.

    ``pool_of(app)`` gives the service's asyncpg pool, so each scrape reads the outbox's state;
    the gateway, which has no database, passes nothing.
    """
    app.middlewares.insert(0, metrics_middleware)

    async def metrics(request: web.Request) -> web.Response:
        if pool_of is not None:
            await _read_outbox(pool_of(request.app))
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)


async def _read_outbox(pool) -> None:
    try:
        async with asyncio.timeout(2):
            async with pool.acquire() as conn:
                row = await conn.fetchrow(_OUTBOX_STATE)
        OUTBOX_PENDING.set(row["pending"])
        OUTBOX_LAG_SECONDS.set(float(row["lag"]))
    except Exception as exc:  # the scrape still answers; the gauges keep their last value
        log.warning("metrics.outbox_unreadable", error=str(exc))
