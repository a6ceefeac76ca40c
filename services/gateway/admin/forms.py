"""What the set-up and operations pages share: a form's action called as the staff member, and a
service's refusal as a sentence for the page (its catalogue text, then every field it names)."""

from aiohttp import web

from services.gateway.admin.console import Staff, ask_as
from services.gateway.pages import language
from services.gateway.web.common import Answer, see_other
from services.gateway.web.i18n import Translator


def problem(request: web.Request, answer: Answer) -> str:
    """Why the service refused, for a person: the code's text and, for a 422, each field and why."""
    t = Translator(language(request, None))
    details = ((answer.body.get("error") or {}).get("details") or {}) if isinstance(answer.body, dict) else {}
    if answer.code == "redirect_page_lacks_access":
        levels = ", ".join(f"{x['program']} / {x['level']}" for x in details.get("levels_lacking_access", []))
        return t("admin.error.redirect_page_lacks_access", levels=levels)
    key = f"error.{answer.code}"
    text = t(key) if answer.code and t.has(key) else t("admin.error.refused", status=answer.status)
    fields = details.get("fields")
    if isinstance(fields, dict) and fields:
        text += " " + t("admin.error.fields", fields="; ".join(f"{name}: {why}" for name, why in sorted(fields.items())))
    return text


async def act(request: web.Request, staff: Staff, service: str, method: str, path: str, body: dict | None, *,
              back: str, done: str, again) -> web.Response:
    """Call the admin API; 303 back to the page saying what was done, or the page again with the
    reason (``again(status=, error=, form=)``) so nothing typed is lost."""
    answer = await ask_as(request, staff, service, method, path, body)
    if answer.ok:
        return see_other(back, done=done)
    return await again(status=answer.status, error=problem(request, answer))


def words(value: str) -> list[str]:
    """A list typed as words separated by commas, spaces or lines."""
    return [w for w in value.replace(",", " ").split() if w]
