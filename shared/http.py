"""HTTP pieces every service shares: correlation ids, error rendering, body validation."""

import json
import random
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.errors import InvalidRequest, ServiceError, validation_details
from shared.logging import bind_contextvars, clear_contextvars, get_logger

log = get_logger("shared.http")

CORRELATION_HEADER = "X-Correlation-Id"
M = TypeVar("M", bound=BaseModel)


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message, "details": details or {}}}, status=status, headers=headers
    )


def new_correlation_id() -> str:
    """A random id in the UUID text form, to follow one request through the logs (not a secret: it is
    sent back in the answer). ``str(uuid.uuid4())`` costs an os.urandom call and a UUID object, a few
    percent of the gateway's CPU per API call."""
    h = "%032x" % random.getrandbits(128)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


@web.middleware
async def correlation_middleware(request: web.Request, handler):
    clear_contextvars()
    incoming = request.headers.get(CORRELATION_HEADER, "")
    correlation_id = incoming if 0 < len(incoming) <= 100 and incoming.isprintable() else new_correlation_id()
    request["correlation_id"] = correlation_id
    bind_contextvars(correlation_id=correlation_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers[CORRELATION_HEADER] = correlation_id
        raise
    response.headers[CORRELATION_HEADER] = correlation_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        if any("\x00" in value for value in request.query.values()):
            raise InvalidRequest("A query parameter holds a NUL character.", details={"fields": {"query": "NUL character"}})
        return await handler(request)
    except ServiceError as exc:
        return web.json_response(exc.body(), status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json" or request.path in ("/metrics",):
            raise
        if not request.path.startswith(("/api/", "/admin/api/", "/internal/", "/.well-known/", "/sandbox/")) and exc.status != 405:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason, headers={k: v for k, v in exc.headers.items() if k == "Allow"})
    except Exception:
        log.exception("http.unhandled_error", method=request.method, path=request.path)
        return error_response(500, "internal_error", "Something went wrong on our side. It has been logged.")


async def read_body(request: web.Request, model: type[M]) -> M:
    """Validate a JSON body into ``model``; 422 naming each bad field otherwise."""
    raw = await request.read()
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body is not valid JSON.", details={"fields": {"body": "invalid JSON"}}) from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.", details={"fields": {"body": "expected an object"}})
    if b"\\u0000" in raw:  # JSON writes NUL only so; PostgreSQL text cannot hold it (a 500 before)
        raise InvalidRequest("The body holds a NUL character.", details={"fields": {"body": "NUL character"}})
    try:
        # Strict, as the document's JSON Schema reads: `true` is a boolean, `0` and `"yes"` are not; a
        # number is not a string (JSON's own strings still give UUIDs, times and enums).
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise InvalidRequest(details=validation_details(exc.errors())) from None


def json_response(model: BaseModel | dict, status: int = 200) -> web.Response:
    if isinstance(model, BaseModel):
        return web.Response(text=model.model_dump_json(), status=status, content_type="application/json")
    return web.json_response(model, status=status)
