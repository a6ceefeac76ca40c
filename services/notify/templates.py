"""Email templates that declare their merge fields, rendered strictly. Pure: no I/O.

A missing or blank merge field is an error: the message is held with the field named, never sent
with a blank in it.
"""

from dataclasses import dataclass, field

import jinja2
from jinja2 import meta

_env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)


class MissingMergeFields(Exception):
    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__("missing or blank merge field(s): " + ", ".join(fields))


class UndeclaredMergeField(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    text: str
    html: str
    required: frozenset[str]
    # Fields that are secrets (links with tokens): used to render, never stored or logged.
    secret: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        used: set[str] = set()
        for env, source in ((_env, self.subject), (_env, self.text), (_html_env, self.html)):
            used |= meta.find_undeclared_variables(env.parse(source))
        undeclared = used - self.required
        if undeclared:
            raise UndeclaredMergeField(f"template {self.name} uses undeclared field(s): {', '.join(sorted(undeclared))}")

    def render(self, fields: dict[str, object]) -> Rendered:
        missing = sorted(
            name for name in self.required if fields.get(name) is None or not str(fields[name]).strip()
        )
        if missing:
            raise MissingMergeFields(missing)
        values = {name: fields[name] for name in self.required}
        return Rendered(
            subject=" ".join(_env.from_string(self.subject).render(values).split()),
            text=_env.from_string(self.text).render(values),
            html=_html_env.from_string(self.html).render(values),
        )


WELCOME = Template(
    name="welcome",
    subject="Welcome to {{ site_name }}: set your password",
    text="""Hello {{ first_name }},

Welcome to {{ site_name }}. Your {{ level_name }} membership is ready.

Your username: {{ username }}

Set your password here (the link works once, until {{ expires_at }}):
{{ set_password_url }}

If you did not sign up, ignore this email.
""",
    html="""<!doctype html>
<html lang="en"><body style="font-family: sans-serif; line-height: 1.5">
<p>Hello {{ first_name }},</p>
<p>Welcome to {{ site_name }}. Your <strong>{{ level_name }}</strong> membership is ready.</p>
<p>Your username: <strong>{{ username }}</strong></p>
<p><a href="{{ set_password_url }}">Set your password</a> (the link works once, until {{ expires_at }}).</p>
<p>If you did not sign up, ignore this email.</p>
</body></html>
""",
    required=frozenset({"first_name", "site_name", "level_name", "username", "set_password_url", "expires_at"}),
    secret=frozenset({"set_password_url"}),
)

TEMPLATES: dict[str, Template] = {t.name: t for t in (WELCOME,)}
