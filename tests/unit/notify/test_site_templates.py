import pytest

from services.notify.templates import CONTACT_FIELDS, DEFAULTS, InvalidTemplate, Template, UndeclaredMergeField


def written(text: str, html: str = "<p>x</p>", subject: str = "s", allowed=CONTACT_FIELDS) -> Template:
    return Template.written(name="mine", subject=subject, text=text, html=html, allowed=allowed)


def test_every_default_declares_what_it_uses_and_renders_with_its_fields():
    for template in DEFAULTS.values():
        rendered = template.render({name: f"<{name}>" for name in template.required})
        for name in template.required:
            assert f"<{name}>" in rendered.text + rendered.subject, (template.name, name)


def test_a_site_template_using_an_undeclared_field_is_refused_naming_it_and_its_part():
    with pytest.raises(UndeclaredMergeField) as err:
        written("Hi {{ first_name }}", html="<p>{{ password }}</p>")
    assert err.value.names == ["password"] and err.value.fields == {"html": ["password"]}


def test_a_site_template_requires_exactly_what_it_uses():
    template = written("Hi {{ first_name }}, see {{ center_url }}")
    assert template.required == {"first_name", "center_url"}


@pytest.mark.parametrize(
    "text",
    [
        "{{ first_name.__class__.__mro__ }}",
        "{{ first_name.__init__.__globals__ }}",
        "{% for x in first_name.mro() %}{% endfor %}",
        "{{ first_name | no_such_filter }}",
        "{% if %}",
    ],
)
def test_the_sandbox_and_syntax_refuse_unsafe_or_broken_templates_at_save(text):
    with pytest.raises(InvalidTemplate):
        written(text)
