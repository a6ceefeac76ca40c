"""The contract as a client sees it: every call through the gateway is checked against the
``/openapi.json`` the gateway serves — its status must be documented for that operation and its body
must match that status's schema (JSON Schema 2020-12, the document's components as the registry)."""

import copy
import re
from collections import defaultdict

import pytest
from jsonschema import Draft202012Validator

API_PREFIXES = ("/api/", "/admin/api/", "/sandbox/", "/.well-known/")


def strict(schema):
    """Objects with declared properties get no undeclared ones: a field the code sends but the
    document does not name fails (the published document stays open to additions)."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


class Contract:
    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.components = strict(copy.deepcopy(spec["components"]))
        self.seen: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._patterns = [
            (re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$"), path) for path in spec["paths"]
        ]

    def template(self, method: str, path: str) -> str:
        path = path.split("?")[0]
        matches = [t for rx, t in self._patterns if rx.match(path) and method.lower() in self.spec["paths"][t]]
        assert matches, f"{method} {path} is not in /openapi.json"
        # The most literal template wins (/admin/api/sequences/run over /admin/api/sequences/{id}).
        return min(matches, key=lambda t: t.count("{"))

    def check(self, method: str, path: str, status: int, content_type: str, body: bytes) -> None:
        template = self.template(method, path)
        responses = self.spec["paths"][template][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path} answered {status}, not documented ({sorted(responses)}): {body[:300]!r}"
        assert status < 500 or template == "/readyz", f"{method} {path}: server error {status}: {body[:300]!r}"
        self.seen[(method.upper(), template)].add(status)
        content = responses[str(status)].get("content")
        if content is None:
            assert not body, f"{method} {path} {status}: documented without a body, got {body[:200]!r}"
            return
        assert content_type in content, f"{method} {path} {status}: {content_type} is not documented ({list(content)})"
        if content_type != "application/json":
            assert body
            return
        import json

        schema = {**content[content_type]["schema"], "components": self.components}
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(json.loads(body)), key=lambda e: list(e.path))
        assert not errors, f"{method} {path} {status} breaks its schema: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5]
        )


class CheckedClient:
    """The gateway session, each answer checked against the contract; returns (status, parsed body)."""

    def __init__(self, session, contract: Contract) -> None:
        self.session, self.contract = session, contract

    async def call(self, method: str, path: str, *, expect: int | None = None, **kw):
        async with self.session.request(method, path, **kw) as r:
            raw = await r.read()
            content_type = r.headers.get("Content-Type", "").split(";")[0]
            self.contract.check(method, path, r.status, content_type, raw)
            if expect is not None:
                assert r.status == expect, f"{method} {path}: {r.status} != {expect}: {raw[:300]!r}"
            if content_type == "application/json" and raw:
                import json

                return r.status, json.loads(raw)
            return r.status, raw.decode(errors="replace")

    def __getattr__(self, method):
        async def verb(path, **kw):
            return await self.call(method.upper(), path, **kw)

        return verb


@pytest.fixture(scope="session")
async def contract(gateway) -> Contract:
    async with gateway.get("/openapi.json") as r:
        assert r.status == 200
        return Contract(await r.json())


@pytest.fixture(scope="session")
async def api(gateway, contract) -> CheckedClient:
    return CheckedClient(gateway, contract)
