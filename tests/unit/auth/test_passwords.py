"""argon2id at OWASP's recommended parameters or above."""

from services.auth.passwords import Passwords
from services.auth.settings import AuthSettings


async def test_passwords_are_hashed_with_argon2id_at_owasp_parameters_or_above():
    passwords = Passwords(AuthSettings())
    try:
        stored = await passwords.hash("a perfectly fine passphrase")
    finally:
        passwords.close()
    params = dict(p.split("=") for p in stored.split("$")[3].split(","))
    assert stored.startswith("$argon2id$v=19$")
    assert int(params["m"]) >= 19456 and int(params["t"]) >= 2 and int(params["p"]) >= 1
