import pytest

from services.auth.domain import PasswordRejected, check_password_policy, hash_token, new_token, username_candidates
from shared.errors import validation_details


def test_tokens_are_long_random_and_stored_only_as_a_hash():
    a, b = new_token(), new_token()
    assert a != b and len(a) >= 43
    assert hash_token(a) == hash_token(a) and hash_token(a) != hash_token(b)
    assert a.encode() not in hash_token(a)


def test_username_is_the_email_then_numbered_variants():
    candidates = username_candidates("ann@example.org")
    assert [next(candidates) for _ in range(3)] == ["ann@example.org", "ann+2@example.org", "ann+3@example.org"]


@pytest.mark.parametrize("password", ["short", "1234567"])
def test_passwords_under_eight_characters_are_refused(password):
    with pytest.raises(PasswordRejected) as err:
        check_password_policy(password)
    assert err.value.status == 422 and "new_password" in err.value.details["fields"]


@pytest.mark.parametrize("password", ["12345678", "pässwörd with spaces 🙂", "x" * 64])
def test_any_characters_from_eight_to_sixty_four_are_accepted(password):
    check_password_policy(password)


def test_validation_details_name_fields_without_echoing_values():
    details = validation_details([{"loc": ("email",), "msg": "Value error, not a valid email", "input": "secret"}])
    assert details == {"fields": {"email": "not a valid email"}}
