"""Every admin action writes an audit entry (who, when, what, before and after) in the same
transaction as its effect: an effect that fails at its commit leaves no entry behind."""

import uuid

from tests.conftest import ADMIN_KEY
from tests.factories import unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}


async def _new_contact(gateway) -> str:
    body = {"email": unique_email("audited"), "first_name": "Ada", "last_name": "Audit"}
    async with gateway.post("/admin/api/contacts", json=body, headers=ADMIN) as r:
        assert r.status == 201, await r.text()
        return (await r.json())["id"]


async def _entries(gateway, contact_id: str) -> list[dict]:
    async with gateway.get(f"/admin/api/audit?contact_id={contact_id}", headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        return (await r.json())["entries"]


async def test_an_admin_change_is_audited_with_its_actor_before_and_after(gateway):
    contact_id = await _new_contact(gateway)
    async with gateway.patch(f"/admin/api/contacts/{contact_id}", json={"first_name": "Augusta", "tags": ["vip"]},
                             headers=ADMIN) as r:
        assert r.status == 200, await r.text()
    updated, created = await _entries(gateway, contact_id)
    assert (updated["action"], created["action"]) == ("contact.updated", "contact.created")
    assert updated["service"] == "membership" and updated["target_type"] == "contact"
    assert updated["actor"]["kind"] == "api_key" and updated["actor"]["name"]  # the key's label
    assert updated["before"]["first_name"] == "Ada" and updated["after"]["first_name"] == "Augusta"
    assert updated["before"]["tags"] == [] and updated["after"]["tags"] == ["vip"]
    assert created["before"] is None and created["after"]["email"].startswith("audited-")


async def test_an_effect_that_fails_at_its_commit_writes_no_audit_entry(gateway, db):
    """A deferred constraint trigger fails the contact's update at COMMIT, after the service wrote
    its audit entry: the entry must roll back with the change."""
    contact_id = await _new_contact(gateway)
    marker = f"Fail {uuid.uuid4().hex[:6]}"
    async with db.acquire() as conn:
        await conn.execute(f"""
            CREATE OR REPLACE FUNCTION membership.fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'failing at commit on purpose'; END $$;
            CREATE CONSTRAINT TRIGGER fail_at_commit AFTER UPDATE ON membership.contacts
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.first_name = '{marker}')
                EXECUTE FUNCTION membership.fail_at_commit();
        """)
    try:
        async with gateway.patch(f"/admin/api/contacts/{contact_id}", json={"first_name": marker}, headers=ADMIN) as r:
            assert r.status == 500, await r.text()
    finally:
        async with db.acquire() as conn:
            await conn.execute("DROP TRIGGER fail_at_commit ON membership.contacts;"
                               " DROP FUNCTION membership.fail_at_commit()")
    assert [e["action"] for e in await _entries(gateway, contact_id)] == ["contact.created"]
    async with gateway.get(f"/admin/api/contacts/{contact_id}", headers=ADMIN) as r:
        assert (await r.json())["first_name"] == "Ada"
