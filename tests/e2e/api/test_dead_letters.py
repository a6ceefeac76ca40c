"""Dead letters through the admin API: a site's admin sees its own site's (another site's answer 404,
to list and to replay), looking loses and reorders nothing, and a replayed message is applied once.
Every answer is checked against /openapi.json (the ``api`` client)."""

import uuid
from datetime import timedelta

from services.membership.seed import seed_site
from tests.conftest import ADMIN_KEY, AMQP_URL, eventually
from tests.e2e.api.dead_letters import park_in_billing_dead_letters, publish_poison
from tests.e2e.ops.cli import Cli

X = {"X-Api-Key": ADMIN_KEY}


async def listed(api, headers) -> list[dict]:
    _, answer = await api.get("/admin/api/dead-letters", headers=headers, expect=200)
    assert answer["unavailable"] == []
    return answer["dead_letters"]


async def test_a_sites_dead_letters_are_its_own_listed_whole_and_a_replayed_one_applies_once(api, amqp, bus_prefix, db):
    other_key = "cc_test_dl_" + uuid.uuid4().hex
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO membership")
        other_site = await seed_site(conn, slug="dl-" + uuid.uuid4().hex[:8], name="Other", admin_key=other_key)
    y = {"X-Api-Key": other_key}

    poison = await publish_poison(amqp, bus_prefix)  # rejected by each consumer of contact.created
    parked = [await park_in_billing_dead_letters(amqp, bus_prefix) for _ in range(3)]
    theirs = await park_in_billing_dead_letters(amqp, bus_prefix, site_id=other_site)

    async def all_there():
        ids = [d["id"] for d in await listed(api, X)]
        return ids if poison["id"] in ids and all(p["id"] in ids for p in parked) else None

    ids = await eventually(all_there, message="the poison message rejected and the parked ones listed")
    assert theirs["id"] not in ids
    rejected = [(d["service"], d["reason"]) for d in await listed(api, X) if d["id"] == poison["id"]]
    assert ("billing", "rejected") in rejected, rejected
    assert [i for i in [d["id"] for d in await listed(api, X)] if i in {p["id"] for p in parked}] == [
        p["id"] for p in parked
    ], "listing twice kept every message, in order"

    # Another site's admin: neither sees nor replays the demo site's; the demo admin not theirs.
    assert [d["id"] for d in await listed(api, y)] == [theirs["id"]]
    await api.post(f"/admin/api/dead-letters/{parked[0]['id']}/replay", headers=y, expect=404)
    await api.post(f"/admin/api/dead-letters/{theirs['id']}/replay", headers=X, expect=404)

    contact_id = uuid.UUID(parked[1]["payload"]["contact_id"])
    _, answer = await api.post(f"/admin/api/dead-letters/{parked[1]['id']}/replay", headers=X, expect=200)
    assert [d["service"] for d in answer["replayed"]] == ["billing"]

    async def applied():
        return await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", contact_id) or None

    assert await eventually(applied, message="billing stored the replayed contact") == 1
    await api.post(f"/admin/api/dead-letters/{parked[1]['id']}/replay", headers=X, expect=404)
    after = [d["id"] for d in await listed(api, X)]
    assert parked[1]["id"] not in after and poison["id"] in after
    assert [i for i in after if i in {p["id"] for p in parked}] == [parked[0]["id"], parked[2]["id"]]
    assert await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", contact_id) == 1
    # Replaying a message still broken: delivered again to each queue it died in, rejected again.
    _, answer = await api.post(f"/admin/api/dead-letters/{poison['id']}/replay", headers=X, expect=200)
    assert "billing" in [d["service"] for d in answer["replayed"]]

    async def dead_again():
        again = [d for d in await listed(api, X) if d["id"] == poison["id"] and d["service"] == "billing"]
        return again if again and again[0]["deaths"] >= 2 else None

    assert (await eventually(dead_again, message="the replayed poison dead again"))[0]["reason"] == "rejected"
    # The others are left for the operator: replay them so later tests find an empty queue of this site.
    for p in (parked[0], parked[2]):
        await api.post(f"/admin/api/dead-letters/{p['id']}/replay", headers=X, expect=200)
    await api.post(f"/admin/api/dead-letters/{theirs['id']}/replay", headers=y, expect=200)


async def test_api_keys_are_listed_without_secrets_created_once_and_revoked(api, gateway):
    _, created = await api.post("/admin/api/api-keys", json={"label": "deploy script"}, headers=X, expect=201)
    key = created["key"]
    assert key.startswith("cc_admin_") and created["label"] == "deploy script"
    _, keys = await api.get("/admin/api/api-keys", headers={"X-Api-Key": key}, expect=200)
    assert created["id"] in [k["id"] for k in keys["api_keys"]] and key not in str(keys)
    await api.post("/admin/api/api-keys", json={"label": ""}, headers=X, expect=422)
    await api.delete(f"/admin/api/api-keys/{created['id']}", headers=X, expect=204)
    await api.delete(f"/admin/api/api-keys/{created['id']}", headers=X, expect=404)
    await api.get("/admin/api/api-keys", headers={"X-Api-Key": key}, expect=401)


async def test_a_template_preview_renders_for_a_sample_contact_and_names_an_undeclared_field(api, gateway, smtp):
    _, preview = await api.post("/admin/api/templates/welcome/preview", json={}, headers=X, expect=200)
    assert preview["contact"]["id"] is None and preview["contact"]["first_name"] in preview["text"]
    assert "{{" not in preview["html"]
    _, contact = await api.post("/admin/api/contacts", json={"email": f"pv-{uuid.uuid4().hex[:8]}@example.org",
                                                             "first_name": "Petra", "last_name": "View"},
                                headers=X, expect=201)

    async def for_contact():
        status, answer = await api.post("/admin/api/templates/welcome/preview", json={
            "contact_id": contact["id"], "subject": "Hello {{ first_name }} from {{ site_name }}"}, headers=X)
        return answer if status == 200 else None

    answer = await eventually(for_contact, message="notify learned the contact")
    assert answer["subject"] == "Hello Petra from Demo Academy" and answer["contact"]["id"] == contact["id"]
    _, refused = await api.post("/admin/api/templates/welcome/preview", json={"text": "Hi {{ favourite_colour }}"},
                                headers=X, expect=422)
    assert refused["error"]["code"] == "undeclared_merge_field" and "favourite_colour" in refused["error"]["message"]
    await api.post("/admin/api/templates/welcome/preview", json={"contact_id": str(uuid.uuid4())}, headers=X,
                   expect=404)
    await api.post("/admin/api/templates/own-none/preview", json={}, headers=X, expect=404)


async def test_a_dead_letter_older_than_the_inbox_retention_is_refused_and_stays(api, amqp, bus_prefix, db, database_url):
    """30 days (CC_INBOX_RETENTION_DAYS' default): the inbox rows that would absorb what it already
    applied may be gone (shared/inbox.py), so replaying it could apply it twice."""
    old = await park_in_billing_dead_letters(amqp, bus_prefix, age=timedelta(days=31))
    recent = await park_in_billing_dead_letters(amqp, bus_prefix, age=timedelta(days=29))

    async def both_listed():
        ids = [d["id"] for d in await listed(api, X)]
        return old["id"] in ids and recent["id"] in ids

    await eventually(both_listed, message="both parked dead letters listed")
    _, answer = await api.post(f"/admin/api/dead-letters/{old['id']}/replay", headers=X, expect=409)
    assert answer["error"]["code"] == "dead_letter_too_old"
    assert answer["error"]["message"].startswith(f"dead letter {old['id']} cannot be replayed: its event occurred or was first parked at ")
    assert "CC_INBOX_RETENTION_DAYS (30 days)" in answer["error"]["message"]
    assert answer["error"]["details"]["retention_days"] == 30
    cli = Cli({"CC_DATABASE_URL": database_url, "CC_AMQP_URL": AMQP_URL, "CC_BUS_PREFIX": bus_prefix})
    refused = await cli.run_async("dead-letters", "replay", "--service", "billing", "--id", old["id"])
    assert refused.returncode == 1 and "0 message(s) replayed" in refused.stdout
    assert f"error: dead letter {old['id']} cannot be replayed" in refused.stderr
    assert old["id"] in [d["id"] for d in await listed(api, X)], "a refused dead letter stays, for inspection"
    assert await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", uuid.UUID(old["payload"]["contact_id"])) == 0

    # Inside the retention: replayed and applied.
    await api.post(f"/admin/api/dead-letters/{recent['id']}/replay", headers=X, expect=200)

    async def applied():
        return await db.fetchval("SELECT count(*) FROM billing.contacts WHERE id = $1", uuid.UUID(recent["payload"]["contact_id"]))

    assert await eventually(applied, message="billing stored the replayed contact") == 1
