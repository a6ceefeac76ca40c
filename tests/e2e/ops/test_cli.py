"""The operator CLI against the real database, broker and gateway."""

import hashlib
import uuid
from datetime import datetime, timezone

import aio_pika
import aiohttp

from services.membership.seed import DEMO_SITE_ID, demo_id
from shared.events import Envelope
from shared.events.membership import Granted
from tests.conftest import eventually
from tests.factories import unique_email


async def test_create_admin_key_prints_a_key_once_stores_only_its_hash_and_revoke_ends_it(cli, gateway, system, db):
    result = cli("create-admin-key", "--site", "demo", "--label", "ops test")
    key_id, key = result.stdout.split()[2], result.stdout.strip().splitlines()[-1]
    assert key.startswith("cc_admin_") and len(key) > 40

    async with gateway.get("/admin/api/site", headers={"X-Api-Key": key}) as r:
        assert r.status == 200, await r.text()
    row = await db.fetchrow("SELECT site_id, key_hash, label FROM membership.api_keys WHERE id = $1", uuid.UUID(key_id))
    assert row["site_id"] == DEMO_SITE_ID and row["label"] == "ops test"
    assert bytes(row["key_hash"]) == hashlib.sha256(key.encode()).digest()
    assert key not in cli("list-admin-keys", "--site", "demo").stdout

    cli("revoke-admin-key", key_id)
    async with aiohttp.ClientSession() as s, s.post(
        f"{system.processes['membership'].url}/internal/api-keys/verify", json={"key": key}
    ) as r:
        assert r.status == 401
    assert cli("create-admin-key", "--site", "no-such-site", check=False).returncode == 1


async def test_dead_letters_are_listed_without_loss_and_a_replayed_one_is_processed(cli, amqp, bus_prefix, smtp):
    channel = await amqp.channel(publisher_confirms=True)
    events = await channel.get_exchange(f"{bus_prefix}cc.events")
    dead = await channel.get_exchange(f"{bus_prefix}cc.dead")

    # A real poison message: auth's consumer rejects it and the broker dead-letters it.
    poison_id = str(uuid.uuid4())
    await events.publish(
        aio_pika.Message(b'{"not": "an envelope"}', message_id=poison_id, type=Granted.routing_key),
        routing_key=Granted.routing_key,
    )
    # A good event that sits in the dead-letter queue, as one does after its handler kept failing
    # (e.g. while a dependency was down): replaying it must now issue credentials and a welcome email.
    address = unique_email("replayed")
    envelope = Envelope.wrap(_granted(address), producer="membership", correlation_id="replay-test")
    await dead.publish(
        aio_pika.Message(envelope.model_dump_json().encode(), message_id=str(envelope.id), type=Granted.routing_key),
        routing_key=f"{bus_prefix}auth.events.dead",
    )

    async def both_listed():
        out = cli("dead-letters", "list", "--service", "auth").stdout
        return out if poison_id in out and str(envelope.id) in out else None

    listed = await eventually(both_listed, timeout=15, message="both dead letters in auth's dead-letter queue")
    (poison_line,) = [line for line in listed.splitlines() if poison_id in line]
    assert Granted.routing_key in poison_line and "rejected" in poison_line
    assert str(envelope.id) in cli("dead-letters", "list", "--service", "auth").stdout, "listing lost nothing"

    replayed = cli("dead-letters", "replay", "--service", "auth", "--id", str(envelope.id)).stdout
    assert f"replayed {envelope.id}" in replayed
    assert len(await smtp.wait_for(address)) == 1
    after = cli("dead-letters", "list", "--service", "auth").stdout
    assert str(envelope.id) not in after and poison_id in after

    missing = cli("dead-letters", "replay", "--service", "auth", "--id", str(uuid.uuid4()), check=False)
    assert missing.returncode == 1 and "not in the dead-letter queue" in missing.stderr
    await channel.close()


async def test_a_rotated_signing_key_signs_new_tokens_and_old_tokens_stay_valid(cli, system, gateway, smtp, db):
    from tests.e2e.helpers import sign_up_and_log_in
    import jwt

    person = await sign_up_and_log_in(gateway, smtp)
    old_kid = jwt.get_unverified_header(person["tokens"]["access_token"])["kid"]

    new_kid = cli("rotate-signing-key").stdout.split()[2]
    assert new_kid != old_kid
    system.stop("auth")
    system.start("auth")
    system.wait_ready(["auth"])

    async with gateway.post("/api/login", json={"site": "demo", "username": person["email"], "password": person["password"]}) as r:
        assert r.status == 200
        assert jwt.get_unverified_header((await r.json())["access_token"])["kid"] == new_kid
    async with gateway.get("/api/me", headers=person["auth"]) as r:
        assert r.status == 200, "a token signed before the rotation is still accepted"

    refused = cli("retire-signing-key", new_kid, check=False)
    assert refused.returncode == 1 and "signs now" in refused.stderr
    cli("retire-signing-key", old_kid)
    system.stop("auth")
    system.start("auth")
    system.wait_ready(["auth"])
    async with aiohttp.ClientSession() as s, s.get(f"{system.processes['auth'].url}/.well-known/jwks.json") as r:
        kids = {k["kid"] for k in (await r.json())["keys"]}
    assert new_kid in kids and old_kid not in kids
    assert f"{old_kid}  created" in cli("list-signing-keys").stdout


def _granted(address: str) -> Granted:
    return Granted(
        grant_id=uuid.uuid4(),
        contact_id=uuid.uuid4(),
        site_id=DEMO_SITE_ID,
        site_slug="demo",
        site_name="Demo Academy",
        program_name="Members",
        level_id=demo_id("level:free"),
        level_name="Free",
        email=address,
        first_name="Rae",
        last_name="Play",
        source="manual",
        starts_at=datetime.now(timezone.utc),
    )
