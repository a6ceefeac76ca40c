"""Site names for emails: learned from events (``membership.granted``, ``auth.*`` carry them); for a
site no event has named yet (a billing event can overtake the first grant), asked once of
membership's HTTP API and remembered. Never membership's tables."""

import asyncio

import aiohttp
import asyncpg
from aiohttp import web

from services.notify import repository as repo
from shared.identity import AdminSite
from shared.logging import get_logger

log = get_logger("notify.sites")


class SiteNames:
    """One per app (``SITES``): its HTTP session is closed with the app."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def name(self, conn: asyncpg.Connection, site_id) -> str | None:
        known = await repo.site_name(conn, site_id)
        if known or site_id is None:
            return known
        asked = await self._ask(site_id)
        if asked:
            await repo.remember_site(conn, site_id=site_id, slug=asked.get("slug") or "", name=asked.get("name") or "")
        return (asked or {}).get("name") or None

    async def _ask(self, site_id) -> dict | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
        url = self.settings.membership_url.rstrip("/") + "/admin/api/site"
        try:
            async with self._session.get(url, headers=AdminSite(site_id).headers()) as response:
                if response.status != 200:
                    return None
                body = await response.json()
                return body if isinstance(body, dict) and isinstance(body.get("name"), str) else None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            log.warning("sites.lookup_failed", site_id=str(site_id), error=type(exc).__name__)
            return None


SITES = web.AppKey("sites", SiteNames)
