"""A hash made with weaker argon2id parameters is upgraded at the next login."""

from argon2 import PasswordHasher, Type

from tests.e2e.auth.conftest import login
from tests.e2e.helpers import sign_up_and_log_in


async def test_a_hash_with_older_parameters_is_rehashed_at_the_next_login(gateway, smtp, db):
    person = await sign_up_and_log_in(gateway, smtp)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(person["password"])
    await db.execute("UPDATE auth.logins SET password_hash = $2 WHERE email = $1", person["email"], weak)
    status, _ = await login(gateway, "demo", person["email"], person["password"])
    assert status == 200
    upgraded = await db.fetchval("SELECT password_hash FROM auth.logins WHERE email = $1", person["email"])
    assert upgraded != weak and "m=19456,t=2,p=1" in upgraded
    assert (await login(gateway, "demo", person["email"], person["password"]))[0] == 200
