"""SMTP delivery: temporary failures are retried, permanent ones held with the reason; a clean
shutdown loses nothing."""

import asyncio
import signal

from tests.conftest import eventually
from tests.factories import registration, unique_email


async def message_row(db, address):
    return await db.fetchrow("SELECT status, reason, attempts FROM notify.messages WHERE to_address = $1", address)


async def test_a_server_that_answers_451_twice_then_accepts_gets_one_email(gateway, smtp, db):
    address = unique_email("greylisted")
    smtp.replies[address] = ["451 4.7.1 Greylisted, try again later", "451 4.3.0 Try again later"]
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201
    await smtp.wait_for(address, timeout=30)

    async def recorded_sent():
        row = await message_row(db, address)
        return row if row["status"] == "sent" else None

    row = await eventually(recorded_sent, timeout=5)
    assert row["attempts"] == 3
    assert [reply for a, reply in smtp.refused if a == address][-1].startswith("451")
    await asyncio.sleep(0.5)
    assert len(smtp.to(address)) == 1


async def test_a_server_that_answers_550_holds_the_message_with_the_reason_and_no_retry(gateway, smtp, db):
    address = unique_email("rejected")
    smtp.replies[address] = ["550 5.1.1 No such user here"] * 10
    async with gateway.post("/api/register", json=registration(address)) as r:
        assert r.status == 201

    async def held():
        row = await message_row(db, address)
        return row if row and row["status"] == "held" else None

    row = await eventually(held, timeout=20)
    assert "550" in row["reason"] and "No such user" in row["reason"]
    await asyncio.sleep(1.0)
    assert row["attempts"] == 1 and len([a for a, _ in smtp.refused if a == address]) == 1
    assert smtp.to(address) == []


async def test_sigterm_stops_a_service_cleanly_and_loses_nothing(system, gateway, smtp):
    addresses = [unique_email("sigterm") for _ in range(10)]
    for address in addresses[:5]:
        async with gateway.post("/api/register", json=registration(address)) as r:
            assert r.status == 201
    # Stop auth mid-flow: it finishes what it holds and exits 0; the rest waits in its queue.
    assert system.stop("auth", signal.SIGTERM, timeout=15) == 0
    try:
        for address in addresses[5:]:
            async with gateway.post("/api/register", json=registration(address)) as r:
                assert r.status == 201
    finally:
        system.start("auth")
        system.wait_ready(["auth"])
    for address in addresses:
        assert len(await smtp.wait_for(address)) == 1
