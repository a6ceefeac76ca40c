"""Sequences run with a controllable clock by TWO notify workers: every step once, in order;
unenrolling stops the rest."""

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from tests.conftest import eventually, free_port
from tests.e2e.notify.conftest import ADMIN, known_contact

DAY = 86400


@pytest.fixture
async def second_notify(system):
    """Another notify process (same database, queue and settings), as a second replica would be."""
    proc = system.start_replica("notify", "notify-2", free_port())
    try:
        system.wait_ready(["notify-2"])
        yield proc
    finally:
        system.stop("notify-2")


async def test_a_three_step_sequence_sends_each_step_once_in_order_with_two_workers(
    system, second_notify, gateway, demo_site, amqp, bus_prefix, db, smtp
):
    tag = uuid.uuid4().hex[:6]
    names = [f"course-{tag}-{n}" for n in (1, 2, 3)]
    for n, name in enumerate(names, 1):
        body = {
            "subject": f"Lesson {n} of {tag} for {{{{ first_name }}}}",
            "text": f"Hello {{{{ first_name }}}}, lesson {n} at {{{{ site_name }}}}: {{{{ center_url }}}}\n",
            "html": f"<p>Hello {{{{ first_name }}}}, lesson {n}</p>",
        }
        async with gateway.put(f"/admin/api/templates/{name}", json=body, headers=ADMIN) as r:
            assert r.status == 200, await r.text()
    sequence_name = f"onboarding-{tag}"
    steps = [{"template": names[0], "delay_seconds": DAY}, {"template": names[1], "delay_seconds": 2 * DAY},
             {"template": names[2], "delay_seconds": DAY}]
    async with gateway.post("/admin/api/sequences", json={"name": sequence_name, "steps": steps}, headers=ADMIN) as r:
        assert r.status == 201, await r.text()
        sequence = await r.json()

    # One contact enrolled by the registration defaults (the event's start_sequences), the others by the admin.
    by_default = await known_contact(amqp, bus_prefix, db, demo_site, start_sequences=[sequence_name])
    others = [await known_contact(amqp, bus_prefix, db, demo_site) for _ in range(3)]
    for contact in others:
        async with gateway.post(
            f"/admin/api/sequences/{sequence['id']}/enrolments", json={"contact_id": str(contact["contact_id"])}, headers=ADMIN
        ) as r:
            assert r.status == 201, await r.text()
    contacts = [by_default, *others]
    stopped = others[-1]

    async def enrolled():
        async with gateway.get(f"/admin/api/sequences/{sequence['id']}/enrolments", headers=ADMIN) as r:
            return len((await r.json())["enrolments"]) == len(contacts)

    await eventually(enrolled, message="every contact enrolled")
    start = datetime.now(timezone.utc)
    workers = [system.processes["notify"].url, second_notify.url]

    async def run_everywhere(as_of: datetime) -> int:
        """The run, on both workers at once (each as the gateway would call it) and through the gateway."""
        async with aiohttp.ClientSession() as session:
            async def direct(url):
                async with session.post(
                    f"{url}/admin/api/sequences/run", json={"as_of": as_of.isoformat()},
                    headers={"X-CC-Admin-Site-Id": str(demo_site["id"])},
                ) as r:
                    assert r.status == 200, await r.text()
                    return (await r.json())["steps_sent"]

            async def via_gateway():
                async with gateway.post("/admin/api/sequences/run", json={"as_of": as_of.isoformat()}, headers=ADMIN) as r:
                    assert r.status == 200, await r.text()
                    return (await r.json())["steps_sent"]

            return sum(await asyncio.gather(*(direct(u) for u in workers), via_gateway(), *(direct(u) for u in workers)))

    # Before the first delay nothing is due.
    assert await run_everywhere(start + timedelta(hours=23)) == 0
    assert await run_everywhere(start + timedelta(days=1, minutes=1)) == len(contacts)
    for contact in contacts:
        await smtp.wait_for(contact["email"], 1)
    async with gateway.delete(f"/admin/api/sequences/{sequence['id']}/enrolments/{stopped['contact_id']}", headers=ADMIN) as r:
        assert r.status == 200 and (await r.json())["status"] == "stopped"

    assert await run_everywhere(start + timedelta(days=2, hours=23)) == 0  # step 2 is due 2 days after step 1
    assert await run_everywhere(start + timedelta(days=3, minutes=1)) == len(contacts) - 1
    for contact in contacts[:-1]:
        await smtp.wait_for(contact["email"], 2)
    assert await run_everywhere(start + timedelta(days=30)) == len(contacts) - 1
    for contact in contacts[:-1]:
        await smtp.wait_for(contact["email"], 3)
    assert await run_everywhere(start + timedelta(days=60)) == 0

    await asyncio.sleep(1.0)
    for contact in contacts[:-1]:
        subjects = [m["Subject"] for m in smtp.to(contact["email"])]
        assert subjects == [f"Lesson {n} of {tag} for {contact['first_name']}" for n in (1, 2, 3)]
        text = smtp.to(contact["email"])[0].get_body(("plain",)).get_content()
        assert "Demo Academy" in text and "/center" in text
    assert [m["Subject"] for m in smtp.to(stopped["email"])] == [f"Lesson 1 of {tag} for {stopped['first_name']}"]

    async with gateway.get("/admin/api/messages", params={"contact_id": str(by_default["contact_id"])}, headers=ADMIN) as r:
        assert r.status == 200
        messages = (await r.json())["messages"]
    assert [(m["template"], m["status"], m["sequence"]["step"]) for m in reversed(messages)] == [
        (names[0], "sent", 0), (names[1], "sent", 1), (names[2], "sent", 2)
    ]
    async with gateway.get(f"/admin/api/sequences/{sequence['id']}/enrolments", headers=ADMIN) as r:
        statuses = {e["contact_id"]: e["status"] for e in (await r.json())["enrolments"]}
    assert statuses[str(stopped["contact_id"])] == "stopped"
    assert {statuses[str(c["contact_id"])] for c in contacts[:-1]} == {"completed"}


async def test_a_sequence_naming_a_missing_template_is_refused(gateway):
    body = {"name": "broken-" + uuid.uuid4().hex[:6], "steps": [{"template": "no-such-template", "delay_seconds": 0}]}
    async with gateway.post("/admin/api/sequences", json=body, headers=ADMIN) as r:
        assert r.status == 422
        assert "steps.0.template" in (await r.json())["error"]["details"]["fields"]


async def test_the_scheduled_loop_sends_a_step_due_now_without_a_run(gateway, demo_site, amqp, bus_prefix, db, smtp):
    tag = uuid.uuid4().hex[:6]
    body = {"subject": f"Right away {tag}", "text": "Hi {{ first_name }}\n", "html": "<p>Hi {{ first_name }}</p>"}
    async with gateway.put(f"/admin/api/templates/now-{tag}", json=body, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
    sequence = {"name": f"now-{tag}", "steps": [{"template": f"now-{tag}", "delay_seconds": 0}, {"template": f"now-{tag}", "delay_seconds": 7 * DAY}]}
    async with gateway.post("/admin/api/sequences", json=sequence, headers=ADMIN) as r:
        assert r.status == 201
    contact = await known_contact(amqp, bus_prefix, db, demo_site, start_sequences=[f"now-{tag}"])
    [msg] = await smtp.wait_for(contact["email"])
    assert msg["Subject"] == f"Right away {tag}"
