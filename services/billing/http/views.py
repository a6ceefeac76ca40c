"""Shared pieces of the views: the context, paging, ids from paths, and how objects are shown."""

from datetime import datetime
from uuid import UUID

import orjson
from aiohttp import web

from services.billing.app_keys import PROCESSOR
from services.billing.context import Ctx
from services.billing.domain import installments_summary
from shared.app import POOL, SETTINGS
from shared.errors import InvalidRequest, NotFound


def ctx(request: web.Request) -> Ctx:
    return Ctx(request.app[POOL], request.app[PROCESSOR], request.app[SETTINGS], request["correlation_id"])


def path_id(request: web.Request, name: str = "id") -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise NotFound() from None


MAX_OFFSET = 10_000_000


def page(request: web.Request) -> tuple[int, int]:
    """``?limit=`` (1-200, default 50) and ``?offset=``."""
    try:
        limit = int(request.query.get("limit", 50))
        offset = int(request.query.get("offset", 0))
    except ValueError:
        raise InvalidRequest("limit and offset must be integers.") from None
    if not 1 <= limit <= 200 or not 0 <= offset <= MAX_OFFSET:
        raise InvalidRequest(f"limit must be 1 to 200 and offset 0 to {MAX_OFFSET}.")
    return limit, offset


def paged(name: str, items: list, limit: int, offset: int) -> dict:
    return {name: items, "limit": limit, "offset": offset, "next_offset": offset + limit if len(items) == limit else None}


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def respond(data: dict, status: int = 200) -> web.Response:
    """orjson writes UUIDs and datetimes itself (as ``str`` and ``isoformat`` would), several times
    faster than ``json.dumps`` calling ``_default`` for each: most of a list answer's fields are those."""
    return web.Response(
        body=orjson.dumps(data, default=_default), status=status, content_type="application/json", charset="utf-8"
    )


def money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def product_view(p) -> dict:
    return {
        "id": p.id, "name": p.name, "kind": p.kind, "price": money(p.amount, p.currency), "interval": p.interval,
        "interval_count": p.interval_count, "installments": p.installments,
    }


def card_ref(row) -> dict | None:
    if row["card_id"] is None:
        return None
    return {"id": row["card_id"], "brand": row["card_brand"], "last4": row["card_last4"]}


def order_view(o) -> dict:
    view = {
        "id": o["id"], "contact_id": o["contact_id"], "product_id": o["product_id"], "product_name": o["product_name"],
        "kind": o["kind"], "price": money(o["amount"], o["currency"]), "interval": o["interval"],
        "interval_count": o["interval_count"], "status": o["status"], "next_billing_date": o["next_billing_at"],
        "card": card_ref(o), "created_at": o["created_at"], "cancel_at_period_end": o["cancel_at_period_end"],
        "cancelled_at": o["cancelled_at"], "cancelled_by": o["cancelled_by"], "cancel_reason": o["cancel_reason"],
        "access_ends_at": o["access_ends_at"], "paused_at": o["paused_at"],
    }
    if o["kind"] == "payment_plan":
        paid, total = min(o["periods_paid"], o["installments"]), o["installments"]
        view["installments"] = {
            "paid": paid, "total": total, "left": money((total - paid) * o["amount"], o["currency"]),
            "summary": installments_summary(paid, total, o["amount"], o["currency"]),
        }
    return view


def invoice_view(i) -> dict:
    return {
        "id": i["id"], "order_id": i["order_id"], "product_name": i["product_name"], "sequence": i["sequence"],
        "covers": i["covers"], "period_start": i["period_start"], "period_end": i["period_end"],
        "amount": money(i["amount"], i["currency"]), "status": i["status"], "paid_at": i["paid_at"],
        "created_at": i["created_at"], "failed_attempts": i["failures"], "next_retry_at": i["next_attempt_at"]
        if i["status"] == "unpaid" and (i["failures"] or i["transient_errors"]) else None, "last_error": i["last_error"],
    }


def payment_view(p) -> dict:
    return {
        "id": p["id"], "invoice_id": p["invoice_id"], "order_id": p["order_id"], "product_name": p["product_name"],
        "amount": money(p["amount"], p["currency"]), "status": p["status"], "card": card_ref(p),
        "failure_code": p["failure_code"], "failure_message": p["failure_message"],
        "amount_refunded": money(p["amount_refunded"], p["currency"]), "created_at": p["created_at"],
        "receipt_url": f"/api/payments/{p['id']}/receipt" if p["status"] != "failed" else None,
    }


def card_view(c, orders: list) -> dict:
    return {
        "id": c["id"], "brand": c["brand"], "last4": c["last4"], "exp_month": c["exp_month"], "exp_year": c["exp_year"],
        "is_default": c["is_default"], "fallback_rank": c["fallback_rank"],
        "orders": [
            {"id": o["id"], "product_name": o["product_name"], "status": o["status"],
             "next_billing_date": o["next_billing_at"], "amount": money(o["amount"], o["currency"])}
            for o in orders if o["card_id"] == c["id"]
        ],
    }
