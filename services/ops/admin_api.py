"""Calls to the admin API through the gateway, as any admin client makes them (``X-Api-Key``)."""

import json
from dataclasses import dataclass

import aiohttp


class AdminApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AdminApi:
    gateway_url: str
    api_key: str
    timeout: float = 60.0

    async def call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        headers = {"X-Api-Key": self.api_key, "Accept": "application/json"}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        url = self.gateway_url.rstrip("/") + path  # the gateway may sit under a path prefix
        async with aiohttp.ClientSession(timeout=timeout) as session:
            try:
                async with session.request(method, url, params=params, json=body, headers=headers) as response:
                    text = await response.text()
                    status = response.status
            except aiohttp.ClientError as exc:
                raise AdminApiError(0, f"cannot reach the gateway at {self.gateway_url}: {exc}") from None
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = {}
        if status < 400:
            return answer
        error = answer.get("error", {}) if isinstance(answer, dict) else {}
        if status == 404 and error.get("message") in (None, "Not Found"):
            # The router's own 404: no such endpoint, as opposed to a service's "no such contact".
            raise AdminApiError(404, f"the gateway at {self.gateway_url} does not offer {method} {path}"
                                     " (not deployed in this version?)")
        raise AdminApiError(status, f"{status} {error.get('code', 'error')}: {error.get('message', text[:200])}")

    async def run_billing(self, as_of: str | None) -> dict:
        return await self.call("POST", "/admin/api/billing/run", body={"as_of": as_of} if as_of else {})

    async def resend_credentials(self, contact_id: str) -> dict:
        return await self.call("POST", f"/admin/api/contacts/{contact_id}/resend-credentials")

    async def access(self, contact_id: str, page: str) -> dict:
        return await self.call("GET", f"/admin/api/contacts/{contact_id}/access", params={"page": page})
