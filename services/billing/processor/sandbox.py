"""The adapter for the built-in sandbox processor (``services/sandbox``), over its HTTP API."""

import asyncio

import aiohttp

from services.billing.processor import CardDetails, ChargeResult, RefundResult
from shared.logging import get_logger

log = get_logger("billing.processor")


class SandboxProcessor:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def card(self, token: str) -> CardDetails | None:
        if not token or len(token) > 100 or "/" in token:
            return None
        status, body = await self._call("GET", f"/sandbox/v1/tokens/{token}")
        if status != 200:
            return None
        return CardDetails(
            token=body["token"], brand=body["brand"], last4=body["last4"],
            exp_month=body["exp_month"], exp_year=body["exp_year"],
        )

    async def charge(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, description: str = ""
    ) -> ChargeResult:
        try:
            status, body = await self._call(
                "POST", "/sandbox/v1/charges",
                {"token": token, "amount": amount, "currency": currency, "description": description[:200]},
                idempotency_key,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            # The charge may or may not have happened: only a retry with the same key can tell.
            log.warning("processor.unavailable", error=type(exc).__name__)
            return ChargeResult("error", code="processor_unavailable", message="The payment processor did not answer.")
        if status in (200, 201) and body.get("status") == "succeeded":
            return ChargeResult("succeeded", charge_id=body["id"])
        if status == 402 and body.get("status") == "failed":
            return ChargeResult("declined", charge_id=body["id"], code=body["failure_code"], message=body["failure_message"])
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        if status >= 500 or status == 429:
            return ChargeResult("error", code=error.get("code", "processing_error"), message=error.get("message"))
        # 4xx other than a decline: the request itself is wrong (unknown token, key reused).
        return ChargeResult("declined", code=error.get("code", "charge_refused"), message=error.get("message", "The charge was refused."))

    async def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        try:
            async with self.session.get(
                self.base_url + "/sandbox/v1/charges", params={"idempotency_key": idempotency_key}, timeout=self.timeout
            ) as response:
                status, body = response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            log.warning("processor.unavailable", error=type(exc).__name__)
            return ChargeResult("error", code="processor_unavailable", message="The payment processor did not answer.")
        if status == 404:
            return None
        if status == 200 and body.get("status") == "succeeded":
            return ChargeResult("succeeded", charge_id=body["id"])
        if status == 200 and body.get("status") == "failed":
            return ChargeResult("declined", charge_id=body["id"], code=body["failure_code"], message=body["failure_message"])
        return ChargeResult("error", code="processing_error", message="The payment processor could not say.")

    async def refund(self, *, charge_id: str, amount: int, idempotency_key: str) -> RefundResult:
        try:
            status, body = await self._call(
                "POST", "/sandbox/v1/refunds", {"charge": charge_id, "amount": amount}, idempotency_key
            )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError):
            return RefundResult(False, code="processor_unavailable")
        if status in (200, 201):
            return RefundResult(True, refund_id=body["id"])
        return RefundResult(False, code=(body or {}).get("error", {}).get("code", "refund_failed"))

    async def _call(self, method: str, path: str, body: dict | None = None, key: str | None = None):
        headers = {"Idempotency-Key": key} if key else {}
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers, timeout=self.timeout
        ) as response:
            return response.status, await response.json(content_type=None)
