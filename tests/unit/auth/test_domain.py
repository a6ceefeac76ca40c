import pytest

from services.auth.domain import (
    PasswordRejected,
    UsernameRejected,
    account_key,
    check_password_policy,
    common_passwords,
    failure_delay,
    hash_token,
    lock_seconds,
    new_token,
    normalize_username,
    safe_redirect,
    username_candidates,
)
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


@pytest.mark.parametrize("password", ["pässwörd with spaces 🙂", "kq8#Vz!p", "x" * 63 + "y", "z" * 256])
def test_any_characters_from_eight_to_two_hundred_fifty_six_are_accepted(password):
    check_password_policy(password)


def test_longer_than_two_hundred_fifty_six_is_refused():
    with pytest.raises(PasswordRejected):
        check_password_policy("z" * 257)


@pytest.mark.parametrize("password", ["12345678", "password", "PassWord1", "iloveyou", "sunshine", " Qwerty123 "])
def test_common_passwords_from_the_shipped_list_are_refused_in_any_case(password):
    with pytest.raises(PasswordRejected) as err:
        check_password_policy(password)
    assert err.value.details["fields"]["new_password"] == "too common"


def test_the_shipped_list_holds_ten_thousand_passwords():
    assert len(common_passwords()) == 10_000 and "123456" in common_passwords()


def test_the_username_or_email_is_refused_as_a_password():
    with pytest.raises(PasswordRejected):
        check_password_policy("Ann@Example.org", context=("ann@example.org", "ann@example.org"))


def test_failed_logins_answer_at_once_then_wait_longer_and_longer():
    delays = [failure_delay(n, free=3, base=0.1, cap=1.0) for n in range(1, 11)]
    assert delays[:3] == [0, 0, 0]
    assert delays[3:] == sorted(delays[3:]) and delays[3] > 0 and max(delays) == 1.0


def test_each_lock_lasts_twice_as_long_up_to_a_day():
    assert [lock_seconds(n, base=900) for n in range(3)] == [900, 1800, 3600]
    assert lock_seconds(50, base=900) == 86_400


def test_an_unknown_username_has_a_throttling_key_like_an_account():
    assert account_key(site_slug="demo", username=" Ann@X.org ") == "name:demo:ann@x.org"
    assert account_key(site_slug="demo", username="x", login_id="abc") == "login:abc"


@pytest.mark.parametrize("path,expected", [("/center", "/center"), ("/members/area?x=1", "/members/area?x=1"),
                                           ("//evil.example", None), ("https://evil.example", None),
                                           ("/\\evil", None), (None, None), ("center", None)])
def test_only_paths_on_this_site_are_post_login_pages(path, expected):
    assert safe_redirect(path) == expected


@pytest.mark.parametrize("name", ["ab", " ", "has space", "tab\there", "x" * 255])
def test_bad_usernames_are_refused(name):
    with pytest.raises(UsernameRejected):
        normalize_username(name)


def test_a_username_is_trimmed():
    assert normalize_username("  Ann.Lee  ") == "Ann.Lee"


def test_validation_details_name_fields_without_echoing_values():
    details = validation_details([{"loc": ("email",), "msg": "Value error, not a valid email", "input": "secret"}])
    assert details == {"fields": {"email": "not a valid email"}}
