"""Errors are part of the interface: one root, a stable code and a status, rendered by one middleware.

Body everywhere: ``{"error": {"code": "<stable_snake_case>", "message": "<for a person>", "details": {...}}}``.
"""

from typing import Any


class ServiceError(Exception):
    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.message
        self.details = details or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    message = "Not found."


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class Unauthorized(ServiceError):
    status = 401
    code = "unauthorized"
    message = "Authentication required."


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    message = "Not allowed."


class InvalidRequest(ServiceError):
    status = 422
    code = "validation_failed"
    message = "The request body is not valid."


class ServiceUnavailable(ServiceError):
    status = 503
    code = "service_unavailable"
    message = "A service this request needs is unavailable. Try again shortly."


def validation_details(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """pydantic errors → {"fields": {"a.b": "message"}}, without echoing the submitted values."""
    fields: dict[str, str] = {}
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        fields.setdefault(loc, e.get("msg", "invalid").removeprefix("Value error, "))
    return {"fields": fields}
