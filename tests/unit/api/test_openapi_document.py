"""The OpenAPI document: a valid 3.1 document that names every API route the gateway serves, and
nothing it does not."""

import re

from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from services.gateway.app import create_app
from services.gateway.openapi import document
from services.gateway.settings import GatewaySettings

API_PREFIXES = ("/api/", "/admin/api/", "/sandbox/", "/.well-known/")
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def served() -> set[tuple[str, str]]:
    """(method, path) of every route of the gateway's router; ``*`` for a route of any method."""
    app = create_app(GatewaySettings())
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method != "HEAD":
            found.add((route.method, path))
    return found


def documented() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document()["paths"].items() for method in item}


def test_document_is_valid_openapi_3_1():
    spec = document()
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_every_api_route_of_the_gateway_is_documented():
    missing = []
    doc = documented()
    doc_paths = {path for _, path in doc}
    for method, path in served():
        if not path.startswith(API_PREFIXES):
            continue
        if method == "*":  # forwarded whatever the method: the service answers; at least one is documented
            if path not in doc_paths:
                missing.append(("*", path))
        elif (method, path) not in doc:
            missing.append((method, path))
    assert not missing, f"served but not in /openapi.json: {sorted(missing)}"


def test_every_documented_operation_is_served():
    routes = served()
    any_method = {path for method, path in routes if method == "*"}
    extra = sorted((m, p) for m, p in documented() if (m, p) not in routes and p not in any_method)
    assert not extra, f"in /openapi.json but not served: {extra}"


def test_operations_requiring_identity_say_how_and_answer_401():
    for path, item in document()["paths"].items():
        for method, op in item.items():
            if path.startswith("/admin/api/"):
                assert op["security"] == [{"apiKey": []}], (method, path)
            if op["security"]:
                assert "401" in op["responses"], (method, path)
            if re.search(r"{\w+}", path):
                assert "404" in op["responses"], (method, path)


def test_every_error_answer_has_the_error_schema():
    spec = document()
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and not (path == "/readyz" and status == "503"):
                    if "Pages" in op["tags"] and "text/html" in response.get("content", {}):
                        continue  # a page refuses with a page, in the person's language; APIs answer JSON
                    assert response["content"]["application/json"]["schema"] == error, (method, path, status)
    assert set(spec["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message", "details"}
