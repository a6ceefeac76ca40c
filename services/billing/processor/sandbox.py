"""The adapter for the built-in sandbox processor (``services/sandbox``), over its HTTP API: one
kept-alive connection pool (the caller's ``aiohttp.ClientSession``), and the billing run's charges in
batches (``POST /sandbox/v1/charges/batch``), each with its own key and outcome."""

import asyncio

import aiohttp
import orjson

from services.billing.processor import CardDetails, ChargeRequest, ChargeResult, RefundResult
from shared.logging import get_logger

log = get_logger("billing.processor")

BATCH = 500  # charges per batch request (the sandbox takes up to 1,000)
_JSON = {"Content-Type": "application/json"}
UNAVAILABLE = ChargeResult("error", code="processor_unavailable", message="The payment processor did not answer.")


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
            return UNAVAILABLE
        if status in (200, 201) and body.get("status") == "succeeded":
            return ChargeResult("succeeded", charge_id=body["id"])
        if status == 402 and body.get("status") == "failed":
            return _declined(body)
        error = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        return _refused(error, retryable=status >= 500 or status == 429)

    async def charge_many(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        if len(requests) == 1:
            r = requests[0]
            return [await self.charge(
                token=r.token, amount=r.amount, currency=r.currency, idempotency_key=r.idempotency_key,
                description=r.description,
            )]
        batches = [requests[i:i + BATCH] for i in range(0, len(requests), BATCH)]
        return [result for batch in await asyncio.gather(*map(self._charge_batch, batches)) for result in batch]

    async def _charge_batch(self, requests: list[ChargeRequest]) -> list[ChargeResult]:
        body = {"charges": [
            {"idempotency_key": r.idempotency_key, "token": r.token, "amount": r.amount, "currency": r.currency,
             "description": r.description[:200]}
            for r in requests
        ]}
        try:
            status, answer = await self._post_batch("/sandbox/v1/charges/batch", body)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            # Any of them may or may not have been charged: only their keys can tell.
            log.warning("processor.unavailable", error=type(exc).__name__, charges=len(requests))
            return [UNAVAILABLE] * len(requests)
        charges = answer.get("charges") if status == 200 and isinstance(answer, dict) else None
        if not isinstance(charges, list) or len(charges) != len(requests):
            error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            log.warning("processor.batch_refused", status=status, code=error.get("code"))
            return [_refused(error, retryable=True)] * len(requests)
        results = []
        for request, charge in zip(requests, charges):
            if charge.get("idempotency_key") != request.idempotency_key:
                results.append(_refused({}, retryable=True))
            elif charge.get("status") == "succeeded":
                results.append(ChargeResult("succeeded", charge_id=charge["id"]))
            elif charge.get("status") == "failed":
                results.append(_declined(charge))
            else:
                results.append(_refused(charge.get("error") or {}, retryable=bool(charge.get("retryable"))))
        return results

    async def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        try:
            async with self.session.get(
                self.base_url + "/sandbox/v1/charges", params={"idempotency_key": idempotency_key}, timeout=self.timeout
            ) as response:
                status, body = response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            log.warning("processor.unavailable", error=type(exc).__name__)
            return UNAVAILABLE
        if status == 404:
            return None
        if status == 200 and body.get("status") == "succeeded":
            return ChargeResult("succeeded", charge_id=body["id"])
        if status == 200 and body.get("status") == "failed":
            return _declined(body)
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

    async def _post_batch(self, path: str, body: dict):
        """``_call`` for a batch: the same request and answer, written and read by orjson (the
        standard library's json took about 6 µs per charge of the run's own CPU, both ways)."""
        async with self.session.post(
            self.base_url + path, data=orjson.dumps(body), headers=_JSON, timeout=self.timeout
        ) as response:
            raw = await response.read()
            return response.status, orjson.loads(raw) if raw.strip() else None


def _declined(charge: dict) -> ChargeResult:
    return ChargeResult("declined", charge_id=charge["id"], code=charge["failure_code"], message=charge["failure_message"])


def _refused(error: dict, *, retryable: bool) -> ChargeResult:
    """No charge: transient (retry with the same key), or the request itself is wrong (unknown token,
    key reused), which ends the attempt like a decline."""
    if retryable:
        return ChargeResult("error", code=error.get("code", "processing_error"), message=error.get("message"))
    return ChargeResult("declined", code=error.get("code", "charge_refused"), message=error.get("message", "The charge was refused."))
