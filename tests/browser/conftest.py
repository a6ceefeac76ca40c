"""Playwright driving Debian's Chromium, headless; axe-core checks every page (WCAG 2.2 AA rules).

``make test`` runs scripts/ensure-browser.sh first (Chromium and axe.min.js); Playwright never
downloads a browser."""

import os
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "var/browser/axe-core-4.14.1/axe.min.js"
SCREENSHOTS = ROOT / "var/screenshots"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    # Third-party cookies blocked, as more and more browsers do: the embedded Center must still work.
    "--test-third-party-cookie-phaseout",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not (AXE.exists() and os.access(CHROMIUM, os.X_OK)):
        subprocess.run(["bash", str(ROOT / "scripts/ensure-browser.sh")], check=True)
    return AXE.read_text()


@pytest.fixture(scope="session")
async def chromium(axe_source):
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        await browser.close()


@pytest.fixture
async def browser_page(chromium, system):
    context = await chromium.new_context(base_url=system.processes["gateway"].url, viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    yield page
    await context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def assert_accessible(page, axe_source: str) -> None:
    """axe-core's WCAG 2.0/2.1/2.2 A and AA rules find nothing on the page as it is now. (axe is put in
    through the DevTools protocol, which the page's CSP does not govern.)"""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source)
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html)})))",
        WCAG_TAGS,
    )
    assert result == [], f"{page.url}: {result}"
