"""Schemathesis against the running gateway's ``/openapi.json`` (issue 10's first attack): every API
operation, with data generated from its schema (valid and invalid), checked by all of schemathesis'
checks: no server error, every status and header documented, every body matching its schema, bad
data refused, good data accepted, and the auth checks (``ignored_auth``: the same call without the
credentials or with wrong ones must be refused).

Customer operations carry the access token of a real contact of the demo site, admin operations the
key of a site of their own (the fuzzer changes that site's settings, not the demo site the other tests
use). Calls come from a loopback address of their own (its failed logins are not the other tests').

``make test`` runs ``CC_FUZZ_EXAMPLES`` (default 5) examples per operation; the long run
(docs/reliability.md): ``CC_FUZZ_EXAMPLES=100 pytest tests/e2e/api/test_fuzz.py --timeout 1800``.
"""

import json
import os
import re
import time
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from requests.adapters import HTTPAdapter
from schemathesis.config import SchemathesisConfig

from services.gateway.openapi import document
from services.membership.seed import seed_site
from tests.e2e.billing.conftest import customer

EXAMPLES = int(os.environ.get("CC_FUZZ_EXAMPLES", "5"))
API = r"^/(api|admin/api|\.well-known)/"  # not /sandbox/: the payment processor's simulator, not ours


class FromAddress(HTTPAdapter):
    """Every connection from one source address (a loopback address of the fuzzer's own)."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.host, 0)
        super().init_poolmanager(*args, **kwargs)


# A schema-valid request may still be refused for what the schema cannot say: an id in the body
# that names nothing of this site (422 unknown_level...), rules across fields (a choice field needs
# choices), a cursor not from a previous page, a card token the processor does not know, an unknown
# set-password token (400 token_invalid). Each refusal is documented and names its field; the
# positive-data check still fails any other refusal (an undocumented 400, a 5xx is its own check).
ACCEPTED = ["2xx", "401", "403", "404", "409", "422", "429"]
CONFIG = SchemathesisConfig.from_dict({
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED}},
    "operations": [{"include-path": "/api/password/set",
                    "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}}}],
})
# The document the gateway serves (``served_document`` checks it is this one), loaded at collection so
# each operation is a test of its own.
APIS = {**document(), "paths": {path: ops for path, ops in document()["paths"].items() if re.match(API, path)}}
schema = schemathesis.openapi.from_dict(APIS, config=CONFIG)


IDENTITIES: dict = {}  # security scheme -> the headers that carry its credentials; how to log in again
TOKEN_LIFETIME = 600  # below the access token's 15 minutes: the long run logs in again


@schema.auth(retry_on=[], refresh_interval=None)
class Credentials:
    """The credentials each operation's security scheme asks for (schemathesis knows them as the
    auth, so its auth checks probe without them, and its negative data does not drop them). A logout
    gets a session of its own: it would end the one every other customer call uses."""

    def get(self, case, context):
        if "since" not in IDENTITIES:  # collecting: no system yet
            return None
        if case.operation.path == "/api/logout":
            return {"Authorization": f"Bearer {log_in()}"}
        if time.monotonic() - IDENTITIES["since"] > TOKEN_LIFETIME:
            IDENTITIES.update(bearer={"Authorization": f"Bearer {log_in()}"}, since=time.monotonic())
        requirements = case.operation.definition.raw.get("security") or []
        return {k: v for req in requirements for scheme in req for k, v in IDENTITIES[scheme].items()}

    def set(self, case, data, context):
        case.headers = {**(case.headers or {}), **data}


def log_in() -> str:
    person = IDENTITIES["person"]
    answer = IDENTITIES["session"].post(IDENTITIES["gateway"] + "/api/login", timeout=30, json={
        "site": person["site"], "username": person["email"], "password": person["password"]})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="session")
async def fuzz_identities(system, gateway, smtp, db, fuzz_session) -> dict:
    """The credentials of each security scheme: a contact's token, an admin key of a site of its own."""
    person = await customer(gateway, smtp, db)
    slug, key = "fuzz-" + uuid.uuid4().hex[:8], "cc_test_fuzz_site_" + uuid.uuid4().hex
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO membership")
        await seed_site(conn, slug=slug, name="Fuzzed site", admin_key=key)
    IDENTITIES.update(bearer={"Authorization": f"Bearer {person['tokens']['access_token']}"}, apiKey={"X-Api-Key": key},
                      since=time.monotonic(), person=person, session=fuzz_session,
                      gateway=system.processes["gateway"].url)
    return IDENTITIES


@pytest.fixture(scope="session")
def fuzz_session(system) -> requests.Session:
    session = requests.Session()
    octets = uuid.uuid4().bytes[:3]
    adapter = FromAddress("127." + ".".join(str(1 + b % 254) for b in octets))
    session.mount("http://", adapter)
    yield session
    session.close()


@pytest.fixture(scope="session")
async def served_document(gateway):
    async with gateway.get("/openapi.json") as r:
        assert await r.json() == json.loads(json.dumps(document()))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_generated_call_as_documented(case, served_document, fuzz_identities, fuzz_session, system):
    case.call_and_validate(base_url=system.processes["gateway"].url, session=fuzz_session, timeout=30)


def test_the_fuzzed_credentials_were_good_throughout(fuzz_identities, fuzz_session, system):
    """The customer and admin calls above were made as someone: their credentials still work (a
    fuzzed logout or password change did not quietly turn every later call into a 401)."""
    base = system.processes["gateway"].url
    assert fuzz_session.get(base + "/api/me", headers=fuzz_identities["bearer"], timeout=30).status_code == 200
    assert fuzz_session.get(base + "/admin/api/site", headers=fuzz_identities["apiKey"], timeout=30).status_code == 200
