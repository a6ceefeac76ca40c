"""No password, set-password token or token hash in any log line, and no token at rest."""

import asyncio
import base64
import hashlib
import subprocess
from urllib.parse import quote

from tests.conftest import eventually
from tests.e2e.helpers import welcome_fields
from tests.factories import registration


async def test_passwords_and_tokens_never_reach_the_logs_or_the_database(system, gateway, smtp, db, log_dir, database_url):
    body = registration()
    async with gateway.post("/api/register", json=body) as r:
        assert r.status == 201
    fields = welcome_fields((await smtp.wait_for(body["email"]))[0])
    password = "Sup3r secret passphrase for leak test"
    async with gateway.post("/api/password/set", json={"token": fields["token"], "new_password": password}) as r:
        assert r.status == 200
    async with gateway.post("/api/login", json={"site": "demo", "username": body["email"], "password": password}) as r:
        assert r.status == 200
        refresh = (await r.json())["refresh_token"]
    async with gateway.post("/api/login", json={"site": "demo", "username": body["email"], "password": password + "x"}) as r:
        assert r.status == 401

    token = fields["token"]
    digest = hashlib.sha256(token.encode()).digest()
    password_hash = await db.fetchval("SELECT password_hash FROM auth.logins WHERE email = $1", body["email"])
    assert password_hash.startswith("$argon2id$")
    secrets = {
        "password": password,
        "password (url-encoded)": quote(password),
        "set-password token": token,
        "token hash (hex)": digest.hex(),
        "token hash (base64)": base64.b64encode(digest).decode(),
        "password hash": password_hash,
        "refresh token": refresh,
    }

    async def delivered():
        return await db.fetchval(
            "SELECT status = 'sent' FROM notify.messages WHERE to_address = $1", body["email"]
        )

    await eventually(delivered)
    await asyncio.sleep(0.5)  # let every process flush its last lines
    logs = "\n".join((log_dir / f"{name}.log").read_text() for name in system.processes)
    assert logs, "no logs captured"
    for what, value in secrets.items():
        assert value not in logs, f"{what} found in the logs"
    assert "$argon2" not in logs

    # At rest: auth keeps only hashes; notify drops the rendered email once delivered; outboxes are drained.
    dump = subprocess.run(
        ["pg_dump", "--data-only", database_url], capture_output=True, text=True, check=True
    ).stdout
    for what in ("password", "password (url-encoded)", "set-password token", "refresh token"):
        assert secrets[what] not in dump, f"{what} found in the database"
