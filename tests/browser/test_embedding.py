"""The Customer Center embedded with the one-line snippet in a host page of another site: shown when
that origin is in the site's embed origins (and usable: log in inside the frame, with the browser
blocking third-party cookies), refused otherwise."""

import uuid

import pytest
from aiohttp import web

from services.membership.seed import seed_site
from tests.conftest import free_port
from tests.e2e.helpers import welcome_fields


async def host_page(gateway_url: str, site: str):
    """A business's own page on its own origin, with the snippet pasted in."""
    html = f"""<!doctype html><html lang="en"><head><title>Host</title>
<style>body {{ font-family: Georgia, serif; color: #222; }}</style></head>
<body><h1>Our members' area</h1>
<script src="{gateway_url}/embed.js" data-site="{site}"></script></body></html>"""
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    # "localhost", not the gateway's "127.0.0.1": another site, so the frame is a third party there.
    return runner, f"http://localhost:{port}"


@pytest.fixture
async def hosts(system):
    gateway = system.processes["gateway"].url
    slug = "embedded-" + uuid.uuid4().hex[:8]
    listed, listed_url = await host_page(gateway, slug)
    other, other_url = await host_page(gateway, slug)
    yield slug, listed_url, other_url
    await listed.cleanup()
    await other.cleanup()


async def embedding_site(db, gateway, slug: str, origin: str) -> dict:
    key = "cc_test_embed_" + uuid.uuid4().hex
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO membership")
        await seed_site(conn, slug=slug, name="Host Academy", admin_key=key)
    admin = {"X-Api-Key": key}
    async with gateway.post("/admin/api/programs", json={"name": "Members"}, headers=admin) as r:
        program = (await r.json())["id"]
    async with gateway.post("/admin/api/levels", json={"program_id": program, "name": "Member"}, headers=admin) as r:
        level = (await r.json())["id"]
    body = {"embed_origins": [origin], "registration_open": True, "registration_defaults": {"level_id": level}}
    async with gateway.patch("/admin/api/site", json=body, headers=admin) as r:
        assert r.status == 200, await r.text()
    return admin


async def test_the_snippet_shows_the_center_only_on_listed_origins(chromium, system, gateway, smtp, db, hosts, screenshots):
    slug, listed, other = hosts
    await embedding_site(db, gateway, slug, listed)
    email = f"embedded-{uuid.uuid4().hex[:8]}@example.org"
    async with gateway.post("/api/register", json={"site": slug, "email": email, "first_name": "Em", "last_name": "B"}) as r:
        assert r.status == 201, await r.text()
    token = welcome_fields((await smtp.welcome(email))[0])["token"]
    async with gateway.post("/api/password/set", json={"token": token, "new_password": "framed and sound 42"}) as r:
        assert r.status == 200

    context = await chromium.new_context(viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    try:
        # On a listed origin: the login form inside the frame, then the Center after logging in there.
        await page.goto(listed)
        frame = page.frame_locator("iframe")
        await frame.locator('input[name="username"]').fill(email)
        await frame.locator('input[name="password"]').fill("framed and sound 42")
        await frame.locator('button[type="submit"]').click()
        await frame.locator("h1", has_text="Customer Center").wait_for()
        await page.screenshot(path=str(screenshots / "embedded-center.png"))
        height = await page.locator("iframe").evaluate("f => f.getBoundingClientRect().height")
        assert height > 300, "the frame took its content's height"
        family = await frame.locator("body").evaluate("b => getComputedStyle(b).fontFamily")
        assert "Georgia" in family, "the host page's font reached the frame"

        # On an origin that is not listed: the browser refuses to show it (frame-ancestors).
        await page.goto(other)
        await page.wait_for_timeout(1500)
        framed = page.frames[1] if len(page.frames) > 1 else None
        assert framed is not None
        assert await framed.locator('input[name="username"]').count() == 0
        assert await framed.locator("h1", has_text="Customer Center").count() == 0
    finally:
        await context.close()
