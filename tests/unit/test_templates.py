import pytest

from services.notify.templates import WELCOME, MissingMergeFields, Template, UndeclaredMergeField

FIELDS = {
    "first_name": "Ann",
    "site_name": "Demo Academy",
    "level_name": "Gold",
    "username": "ann@example.org",
    "set_password_url": "http://localhost/password/set?token=abc",
    "expires_at": "2030-01-01 00:00 UTC",
}


def test_welcome_renders_every_merge_field():
    rendered = WELCOME.render(FIELDS)
    assert "Demo Academy" in rendered.subject
    for value in FIELDS.values():
        assert value in rendered.text
    assert "ann@example.org" in rendered.html


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_a_blank_username_is_refused_naming_the_field(blank):
    with pytest.raises(MissingMergeFields) as err:
        WELCOME.render({**FIELDS, "username": blank})
    assert err.value.fields == ["username"]
    assert "username" in str(err.value)


def test_every_missing_field_is_named():
    with pytest.raises(MissingMergeFields) as err:
        WELCOME.render({"first_name": "Ann"})
    assert set(err.value.fields) == set(FIELDS) - {"first_name"}


def test_a_template_using_an_undeclared_field_is_refused():
    with pytest.raises(UndeclaredMergeField, match="password"):
        Template(name="bad", subject="Hi", text="{{ username }} {{ password }}", html="", required=frozenset({"username"}))


def test_html_part_escapes_merge_fields():
    rendered = WELCOME.render({**FIELDS, "first_name": "<script>x</script>"})
    assert "<script>x</script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
