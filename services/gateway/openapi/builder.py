"""Builds the OpenAPI 3.1 document from a list of operations. Schemas come from pydantic models
(the services' own where they have one), so the document follows the code."""

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"
BEARER, API_KEY = "bearer", "apiKey"
HTML = "text/html"
TEXT = "text/plain"
JS = "application/javascript"
NO_CONTENT = None

# What each status means when an operation does not say more.
STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Bad request",
    401: "Unauthenticated: no, an invalid or an expired token or key",
    402: "The payment processor refused the charge (`code` says why: card_declined, insufficient_funds, processing_error)",
    403: "Not allowed", 404: "Not found (also another contact's or another site's object: it is never revealed)",
    405: "Method not allowed", 409: "Conflict", 413: "The body is larger than 64 KiB",
    422: "The body or a parameter is not valid (`details.fields` names each one)",
    429: "Throttled: retry after `Retry-After` seconds", 500: "An unexpected error (logged)",
    503: "A service this call needs is unavailable: try again shortly",
}


@dataclass
class Op:
    method: str
    path: str
    summary: str
    tag: str
    responses: dict[int, Any]  # status -> a model, HTML, NO_CONTENT (None) or "error"
    security: str | None = None
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: list[dict] = field(default_factory=list)
    description: str = ""
    forwarded: bool = True  # answered by a service behind the gateway: may be 503


def query(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path_params(path: str) -> list[dict]:
    params = []
    for name in re.findall(r"{(\w+)}", path):
        schema = {"type": "string"} if name == "name" else {"type": "string", "format": "uuid"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _statuses(op: Op) -> dict[int, Any]:
    """The operation's own answers plus those every call of its kind can get."""
    answers = dict(op.responses)
    if op.security:
        answers.setdefault(401, "error")
    if "{" in op.path:
        answers.setdefault(404, HTML if op.tag == "Pages" else "error")  # a page refuses with a page
    if op.body is not None:
        answers.setdefault(422, "error")
    if op.forwarded:  # the gateway reads at most 64 KiB of any body it forwards
        answers.setdefault(413, "error")
        answers.setdefault(503, "error")
    answers.setdefault(500, "error")
    return dict(sorted(answers.items()))


def _content(answer, names: dict) -> dict | None:
    if answer is NO_CONTENT:
        return None
    if answer in (HTML, TEXT, JS):
        return {answer: {"schema": {"type": "string"}}}
    if answer == "error":
        return {"application/json": {"schema": names["error"]}}
    if isinstance(answer, dict):
        return {"application/json": {"schema": answer}}
    return {"application/json": {"schema": names[(answer, "serialization")]}}


def build(operations: list[Op], *, title: str, version: str, description: str) -> dict:
    from services.gateway.openapi.models import Error

    models: set[tuple[type[BaseModel], str]] = {(Error, "serialization")}
    for op in operations:
        if op.body is not None:
            models.add((op.body, "validation"))
        for answer in op.responses.values():
            if isinstance(answer, type) and issubclass(answer, BaseModel):
                models.add((answer, "serialization"))
    ordered = sorted(models, key=lambda m: (m[0].__module__, m[0].__qualname__, m[1]))
    names, definitions = models_json_schema(ordered, ref_template=REF)
    names = {**names, "error": names[(Error, "serialization")]}

    paths: dict[str, dict] = {}
    for op in operations:
        operation: dict[str, Any] = {
            "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _path_params(op.path) + op.query,
            "responses": {},
        }
        if op.description:
            operation["description"] = op.description
        if not operation["parameters"]:
            del operation["parameters"]
        operation["security"] = [{op.security: []}] if op.security else []
        if op.body is not None:
            operation["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": names[(op.body, "validation")]}},
            }
        for status, answer in _statuses(op).items():
            response: dict[str, Any] = {"description": STATUS_TEXT.get(status, str(status))}
            content = _content(answer, names)
            if content:
                response["content"] = content
            if status == 429:
                response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}
            operation["responses"][str(status)] = response
        paths.setdefault(op.path, {})[op.method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                BEARER: {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "The access token of `POST /api/login` (EdDSA, verified against `/.well-known/jwks.json`).",
                },
                API_KEY: {
                    "type": "apiKey", "in": "header", "name": "X-Api-Key",
                    "description": "An admin API key: created by `python -m services.cli create-admin-key --site <slug>`, stored hashed, scoped to one site.",
                },
            },
        },
    }
