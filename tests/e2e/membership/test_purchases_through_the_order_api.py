"""Issue 5's purchase chain through the real order API (billing charges the sandbox, its events reach
membership's rules, auth and notify): the first purchase grants its level and brings one welcome
email; a second product later grants a second level and no second set-password link."""

import asyncio
import uuid

from tests.conftest import ADMIN_KEY, eventually
from tests.e2e.billing.conftest import EBOOK, MONTHLY, place_order, tokenise
from tests.e2e.helpers import welcome_fields
from tests.factories import unique_email

ADMIN = {"X-Api-Key": ADMIN_KEY}


async def test_buying_grants_the_level_with_one_welcome_and_a_second_product_no_second_link(gateway, smtp, db):
    # The demo site's monthly subscription grants Gold (seeded); the e-book will grant a level of its own.
    async with gateway.post("/admin/api/programs", json={"name": "Library " + uuid.uuid4().hex[:6]}, headers=ADMIN) as r:
        program = (await r.json())["id"]
    async with gateway.post("/admin/api/levels", json={"program_id": program, "name": "Reader"}, headers=ADMIN) as r:
        reader = (await r.json())["id"]
    async with gateway.post("/admin/api/rules", json={"product_id": EBOOK, "level_id": reader}, headers=ADMIN) as r:
        assert r.status == 201, await r.text()

    # A contact the business added (no level, so no login yet), known to billing through the event.
    email = unique_email("buyer")
    async with gateway.post("/admin/api/contacts", json={"email": email, "first_name": "Bea", "last_name": "Y"},
                            headers=ADMIN) as r:
        assert r.status == 201, await r.text()
        contact_id = (await r.json())["id"]
    await eventually(lambda: db.fetchval("SELECT true FROM billing.contacts WHERE id = $1", uuid.UUID(contact_id)))

    async def levels():
        async with gateway.get(f"/admin/api/contacts/{contact_id}", headers=ADMIN) as r:
            return {g["level"] for g in (await r.json())["grants"] or []}

    await place_order(gateway, contact_id, MONTHLY, (await tokenise(gateway))["token"])
    [welcome] = await smtp.welcome(email)
    fields = welcome_fields(welcome)
    assert fields["username"] == email and "Gold" in fields["text"]
    assert await levels() == {"Gold"}

    await place_order(gateway, contact_id, EBOOK, (await tokenise(gateway))["token"])

    async def both():
        return await levels() == {"Gold", "Reader"}

    await eventually(both, message="the second product's level")
    await smtp.wait_for(email, count=2, subject="receipt")  # both payments' receipts went out
    await asyncio.sleep(1.0)  # anything else the second grant caused has had time to arrive
    assert len(smtp.to(email, "set your password")) == 1
    links = await db.fetchval(
        "SELECT count(*) FROM auth.password_tokens t JOIN auth.logins l ON l.id = t.login_id WHERE l.contact_id = $1",
        uuid.UUID(contact_id),
    )
    assert links == 1
