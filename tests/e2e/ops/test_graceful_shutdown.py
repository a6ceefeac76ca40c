"""SIGTERM mid-flow: every service stops taking work, finishes what it holds and exits 0 well within
the grace period the manifests give it; nothing that was accepted is lost or done twice.

(tests/e2e/test_delivery.py stops auth alone between requests; this one stops every backend at once
while registrations are in flight, then the gateway.)"""

import asyncio
import signal
import time

from services.system import SERVICES
from tests.factories import registration, unique_email

# deploy/compose.yaml stop_grace_period is 30 s; Kubernetes gives 45 s less a 5 s preStop pause.
GRACE_SECONDS = 30


async def _stop_timed(system, name: str) -> tuple[str, int | None, float]:
    started = time.monotonic()
    code = await asyncio.to_thread(system.stop, name, signal.SIGTERM, GRACE_SECONDS)
    return name, code, time.monotonic() - started


async def test_sigterm_mid_flow_every_service_exits_in_time_and_nothing_accepted_is_lost(system, gateway, smtp):
    backends = [name for name in SERVICES if name != "gateway"]
    addresses = [unique_email("shutdown") for _ in range(12)]

    async def register(address: str) -> int:
        try:
            async with gateway.post("/api/register", json=registration(address)) as r:
                return r.status
        except Exception:
            return 0

    tasks = []
    for address in addresses:
        tasks.append(asyncio.create_task(register(address)))
        await asyncio.sleep(0.03)
        if len(tasks) == 6:  # half sent: the chain (membership -> auth -> notify) is busy
            stopping = asyncio.gather(*(_stop_timed(system, name) for name in backends))
    statuses = await asyncio.gather(*tasks)
    try:
        stopped = await stopping
    finally:
        for name in backends:
            system.start(name)
        system.wait_ready(backends)

    for name, code, seconds in stopped:
        assert code == 0, f"{name} exited with {code} (not a clean stop)"
        assert seconds < GRACE_SECONDS, f"{name} took {seconds:.1f}s to stop"
    accepted = [a for a, status in zip(addresses, statuses) if status == 201]
    assert len(accepted) >= 3, f"statuses {statuses}"
    assert all(status in (201, 502, 503, 0) for status in statuses), statuses
    for address in accepted:
        await smtp.wait_for(address, timeout=30)
    await asyncio.sleep(1.0)
    assert {a: len(smtp.to(a)) for a in accepted} == {a: 1 for a in accepted}, "each accepted registration: one email"

    name, code, seconds = await _stop_timed(system, "gateway")
    system.start("gateway")
    system.wait_ready(["gateway"])
    assert code == 0 and seconds < GRACE_SECONDS, (code, seconds)
