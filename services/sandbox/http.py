"""The sandbox's HTTP API, shaped like a real processor's: tokens, charges, refunds.

``POST /sandbox/v1/tokens`` is the only route the gateway exposes (the card form posts there); billing
calls the rest directly. Charges and refunds need an ``Idempotency-Key`` header: a repeated key with
the same parameters returns the stored result (``Idempotent-Replayed: true``), with other parameters
409. A transient processing error stores nothing, so retrying with the same key runs the charge again.
``POST /sandbox/v1/charges/batch`` takes many charges at once (the billing run's), each with its own
key and its own outcome, by the same rules (``services/sandbox/charges.py``).
"""

import hashlib
import secrets
from datetime import datetime, timezone

import asyncpg
import orjson
from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from services.sandbox import repository as repo
from services.sandbox.charges import ChargeOrder, charge_all
from services.sandbox.domain import IdempotencyKeyReused, ProcessingError, check_card
from shared.app import POOL
from shared.errors import InvalidRequest, NotFound, ServiceError
from shared.http import read_body
from shared.logging import get_logger

log = get_logger("sandbox.http")
MAX_BATCH = 1000  # charges in one batch request
routes = web.RouteTableDef()


class TokenRequest(BaseModel):
    number: str = Field(min_length=1, max_length=32)
    exp_month: int
    exp_year: int
    cvc: str = Field(min_length=1, max_length=8)


class ChargeRequest(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    amount: int = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    description: str = Field("", max_length=200)


class BatchCharge(ChargeRequest):
    idempotency_key: str = Field(min_length=1, max_length=255)


class BatchChargeRequest(BaseModel):
    charges: list[BatchCharge] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("charges")
    @classmethod
    def _distinct_keys(cls, charges: list[BatchCharge]) -> list[BatchCharge]:
        if len({c.idempotency_key for c in charges}) != len(charges):
            raise ValueError("each charge needs an idempotency key of its own")
        return charges


class RefundRequest(BaseModel):
    charge: str = Field(min_length=1, max_length=100)
    amount: int | None = Field(None, gt=0)


def _token_body(row) -> dict:
    return {k: row[k] for k in ("token", "brand", "last4", "exp_month", "exp_year")}


def _charge_body(row) -> dict:
    return {
        "id": row["id"],
        "status": row["status"],
        "amount": row["amount"],
        "currency": row["currency"],
        "token": row["token"],
        "failure_code": row["failure_code"],
        "failure_message": row["failure_message"],
        "amount_refunded": row["amount_refunded"],
        "created_at": row["created_at"].isoformat(),
    }


def _idempotency_key(request: web.Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(key) <= 255:
        raise InvalidRequest("An Idempotency-Key header is required.", details={"fields": {"Idempotency-Key": "required"}})
    return key


def _hash(*parts) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@routes.post("/sandbox/v1/tokens")
async def create_token(request: web.Request) -> web.Response:
    body = await read_body(request, TokenRequest)
    card = check_card(body.number, body.exp_month, body.exp_year, body.cvc, datetime.now(timezone.utc))
    token = "tok_" + secrets.token_urlsafe(18)
    async with request.app[POOL].acquire() as conn:
        await repo.insert_token(
            conn, token=token, brand=card.brand, last4=card.last4,
            exp_month=body.exp_month, exp_year=body.exp_year, behaviour=card.behaviour,
        )
        row = await repo.token(conn, token)
    log.info("sandbox.token_created", brand=card.brand)
    return web.json_response(_token_body(row), status=201)


@routes.get("/sandbox/v1/tokens/{token}")
async def get_token(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await repo.token(conn, request.match_info["token"])
    if row is None:
        raise NotFound("No such token.")
    return web.json_response(_token_body(row))


@routes.post("/sandbox/v1/charges")
async def create_charge(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await read_body(request, ChargeRequest)
    async with request.app[POOL].acquire() as conn:
        [outcome] = await charge_all(conn, [ChargeOrder(key, body.token, body.amount, body.currency)])
    if isinstance(outcome, ServiceError):
        if isinstance(outcome, ProcessingError):
            log.info("sandbox.charge_transient_failure")
        raise outcome
    row = outcome.row
    if outcome.replayed:
        return web.json_response(
            _charge_body(row), status=200 if row["status"] == "succeeded" else 402, headers={"Idempotent-Replayed": "true"}
        )
    log.info("sandbox.charge_created", charge_id=row["id"], status=row["status"])
    return web.json_response(_charge_body(row), status=201 if row["status"] == "succeeded" else 402)


@routes.post("/sandbox/v1/charges/batch")
async def create_charges(request: web.Request) -> web.Response:
    """Many charges in one request, each with its own idempotency key and its own outcome (as the
    single route would answer it): ``{"charges": [...]}`` in the order asked. A charge is a charge
    body plus ``idempotency_key`` and ``replayed``, or ``{"idempotency_key", "status": "error",
    "error": {...}, "retryable"}`` (retryable: ``processing_error``, retry with the same key)."""
    body = await read_body(request, BatchChargeRequest)
    orders = [ChargeOrder(c.idempotency_key, c.token, c.amount, c.currency) for c in body.charges]
    async with request.app[POOL].acquire() as conn:
        outcomes = await charge_all(conn, orders)
    answers, created = [], 0
    for order, outcome in zip(orders, outcomes):
        if isinstance(outcome, ServiceError):
            answers.append({
                "idempotency_key": order.idempotency_key, "status": "error", **outcome.body(),
                "retryable": outcome.status >= 500,
            })
        else:
            created += not outcome.replayed
            answers.append({**_charge_body(outcome.row), "idempotency_key": order.idempotency_key, "replayed": outcome.replayed})
    log.info("sandbox.charges_batch", charges=len(orders), created=created)
    # orjson: the standard library's json took a third of the sandbox's CPU per charge here.
    return web.Response(body=orjson.dumps({"charges": answers}), content_type="application/json", charset="utf-8")


@routes.get("/sandbox/v1/charges")
async def find_charge_by_key(request: web.Request) -> web.Response:
    """The charge made under an idempotency key (``?idempotency_key=``), 404 when none was: how a
    client whose charge request got no answer learns what happened without charging again."""
    key = request.query.get("idempotency_key", "")
    if not 0 < len(key) <= 255:
        raise InvalidRequest("idempotency_key is required.", details={"fields": {"idempotency_key": "required"}})
    async with request.app[POOL].acquire() as conn:
        row = await repo.charge_by_key(conn, key)
    if row is None:
        raise NotFound("No charge with this idempotency key.")
    return web.json_response(_charge_body(row))


@routes.get("/sandbox/v1/charges/{charge_id}")
async def get_charge(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        row = await repo.charge(conn, request.match_info["charge_id"])
    if row is None:
        raise NotFound("No such charge.")
    return web.json_response(_charge_body(row))


class RefundRefused(ServiceError):
    status = 409
    code = "refund_exceeds_charge"
    message = "The charge did not succeed or has less left to refund."


@routes.post("/sandbox/v1/refunds")
async def create_refund(request: web.Request) -> web.Response:
    key = _idempotency_key(request)
    body = await read_body(request, RefundRequest)
    async with request.app[POOL].acquire() as conn:
        charge = await repo.charge(conn, body.charge)
        if charge is None:
            raise NotFound("No such charge.")
        amount = body.amount or charge["amount"] - charge["amount_refunded"]
        request_hash = _hash(body.charge, body.amount)
        existing = await repo.refund_by_key(conn, key)
        if existing is None:
            try:
                async with conn.transaction():
                    existing = await repo.insert_refund(
                        conn, refund_id="re_" + secrets.token_urlsafe(18), key=key,
                        request_hash=request_hash, charge_id=body.charge, amount=amount,
                    )
            except asyncpg.UniqueViolationError:
                existing = await repo.refund_by_key(conn, key)
            if existing is None:
                raise RefundRefused()
            status = 201
        else:
            status = 200
    if existing["request_hash"] != request_hash:
        raise IdempotencyKeyReused()
    log.info("sandbox.refund_created", refund_id=existing["id"], charge_id=body.charge)
    return web.json_response(
        {"id": existing["id"], "charge": existing["charge_id"], "amount": existing["amount"], "status": "succeeded"},
        status=status,
    )
