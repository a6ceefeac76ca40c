"""Email templates that declare their merge fields, rendered strictly in a sandbox. Pure: no I/O.

Every template is Jinja2 in strict mode (``StrictUndefined``) inside a sandboxed environment, since
admins write their own. A template may use only the merge fields it declares: one that uses another
is refused when it is made (``UndeclaredMergeField``). A missing or blank declared field at render
time holds the message with the field named (``MissingMergeFields``), it is never sent with a blank.
"""

from dataclasses import dataclass, field
from functools import lru_cache

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

_env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_html_env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=True)
PARTS = ("subject", "text", "html")


class MissingMergeFields(Exception):
    def __init__(self, fields: list[str]) -> None:
        self.fields = fields
        super().__init__("missing or blank merge field(s): " + ", ".join(fields))


class UndeclaredMergeField(Exception):
    def __init__(self, name: str, fields: dict[str, list[str]]) -> None:
        self.fields = fields  # part -> undeclared names used in it
        names = sorted({n for used in fields.values() for n in used})
        self.names = names
        super().__init__(f"template {name} uses undeclared merge field(s): {', '.join(names)}")


class InvalidTemplate(Exception):
    def __init__(self, part: str, message: str) -> None:
        self.part = part
        super().__init__(f"{part}: {message}")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _env_of(part: str):
    return _html_env if part == "html" else _env


@lru_cache(maxsize=1024)
def _compiled(part: str, source: str) -> jinja2.Template:
    """A template's part compiled once per distinct source (compiling costs far more than rendering;
    an edited template is a new source, so nothing stale is ever rendered)."""
    return _env_of(part).from_string(source)


def used_fields(part: str, source: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(_env_of(part).parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidTemplate(part, f"line {exc.lineno}: {exc.message}") from None


@dataclass(frozen=True)
class Template:
    name: str
    subject: str
    text: str
    html: str
    required: frozenset[str]
    # Fields that are secrets (links with tokens): used to render, never stored or logged.
    secret: frozenset[str] = field(default_factory=frozenset)
    # The event that sends it ("" for a site's own template, sent by sequences).
    event: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        undeclared = {
            part: sorted(used_fields(part, getattr(self, part)) - self.required) for part in PARTS
        }
        undeclared = {part: names for part, names in undeclared.items() if names}
        if undeclared:
            raise UndeclaredMergeField(self.name, undeclared)

    @classmethod
    def written(cls, *, name: str, subject: str, text: str, html: str, allowed: frozenset[str], **kw) -> "Template":
        """A template an admin wrote: may use any of ``allowed``; requires exactly what it uses.

        Tried once with sample values, so a template the sandbox refuses is refused when saved.
        """
        used: set[str] = set()
        for part, source in (("subject", subject), ("text", text), ("html", html)):
            used |= used_fields(part, source)
        undeclared = {
            part: sorted(used_fields(part, source) - allowed)
            for part, source in (("subject", subject), ("text", text), ("html", html))
        }
        undeclared = {part: names for part, names in undeclared.items() if names}
        if undeclared:
            raise UndeclaredMergeField(name, undeclared)
        template = cls(name=name, subject=subject, text=text, html=html, required=frozenset(used), **kw)
        for part in PARTS:
            try:
                template._render_part(part, {n: f"sample {n}" for n in used})
            except Exception as exc:  # the sandbox's SecurityError, a bad filter, a type error
                raise InvalidTemplate(part, f"{type(exc).__name__}: {exc}") from None
        return template

    def _render_part(self, part: str, values: dict[str, object]) -> str:
        return _compiled(part, getattr(self, part)).render(values)

    def render(self, fields: dict[str, object]) -> Rendered:
        missing = sorted(
            name for name in self.required if fields.get(name) is None or not str(fields[name]).strip()
        )
        if missing:
            raise MissingMergeFields(missing)
        values = {name: fields[name] for name in self.required}
        return Rendered(
            subject=" ".join(self._render_part("subject", values).split()),
            text=self._render_part("text", values),
            html=self._render_part("html", values),
        )
