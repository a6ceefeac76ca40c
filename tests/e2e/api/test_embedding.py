"""Embedding through the running gateway: the snippet is served; a page asked for in embed mode may be
framed only by the site's embed origins (CSP frame-ancestors) and only they get CORS answers; 1,000
look-alike origins are never reflected in either."""

import asyncio
import uuid

import pytest

from services.membership.seed import seed_site
from tests.unit.api.test_embed_origins import look_alikes

PARTNER, LOCAL = "https://partner.example", "http://localhost:8001"


@pytest.fixture(scope="module")
async def embedding_site(api, db):
    slug = "embed-" + uuid.uuid4().hex[:8]
    key = "cc_test_embed_site_" + uuid.uuid4().hex
    async with db.acquire() as conn, conn.transaction():  # the run's pool: no connection of its own
        await conn.execute("SET LOCAL search_path TO membership")
        await seed_site(conn, slug=slug, name="Embedding site", admin_key=key)
    await api.patch("/admin/api/site", json={"embed_origins": [PARTNER, LOCAL]}, headers={"X-Api-Key": key},
                    expect=200)
    return slug


def frame_ancestors(headers) -> str:
    directives = [d.strip() for d in headers.get("Content-Security-Policy", "").split(";")]
    [directive] = [d for d in directives if d.startswith("frame-ancestors")]
    return directive


async def test_the_snippet_and_the_frame_script_are_served(api):
    _, script = await api.get("/embed.js", expect=200)
    assert "data-site" not in script or "dataset.site" in script
    assert "/center" in script and "embed" in script and "cc:resize" in script
    _, frame = await api.get("/embed/frame.js", expect=200)
    assert "cc:resize" in frame and "--cc-host-" in frame


async def test_only_the_sites_embed_origins_may_frame_or_read_it(gateway, embedding_site):
    page = f"/login?site={embedding_site}&embed=1"  # what an embedded Center shows a visitor not logged in
    async with gateway.get(page, headers={"Origin": PARTNER}) as r:
        assert r.status == 200
        assert frame_ancestors(r.headers) == f"frame-ancestors 'self' {PARTNER} {LOCAL}"
        assert r.headers["Access-Control-Allow-Origin"] == PARTNER
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    async with gateway.options(page, headers={"Origin": LOCAL, "Access-Control-Request-Method": "POST"}) as r:
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == LOCAL
    # Not in embed mode, or another site: nobody frames it.
    async with gateway.get("/", headers={"Origin": PARTNER}) as r:
        assert frame_ancestors(r.headers) == "frame-ancestors 'none'"
        assert "Access-Control-Allow-Origin" not in r.headers
    async with gateway.get("/login?site=no-such-site&embed=1", headers={"Origin": PARTNER}) as r:
        assert frame_ancestors(r.headers) == "frame-ancestors 'self'"
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_a_thousand_look_alike_origins_are_never_reflected(gateway, embedding_site):
    page = f"/login?site={embedding_site}&embed=1"  # what an embedded Center shows a visitor not logged in
    origins = look_alikes()
    assert len(origins) == 1000
    reflected = []

    async def attempt(origin: str) -> None:
        headers = {"Origin": origin} if origin else {}
        async with gateway.get(page, headers=headers) as r:
            assert r.status == 200
            if "Access-Control-Allow-Origin" in r.headers or frame_ancestors(r.headers) != (
                f"frame-ancestors 'self' {PARTNER} {LOCAL}"
            ):
                reflected.append((origin, "get"))
        async with gateway.options(page, headers={**headers, "Access-Control-Request-Method": "GET"}) as r:
            if "Access-Control-Allow-Origin" in r.headers:
                reflected.append((origin, "preflight"))

    for start in range(0, len(origins), 50):
        await asyncio.gather(*(attempt(o) for o in origins[start:start + 50]))
    assert reflected == []
