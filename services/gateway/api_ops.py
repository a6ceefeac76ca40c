"""Admin API routes for operations: dead letters. Each service with a consumer keeps its own
dead-letter queue and answers for it; the gateway (no broker of its own) asks all of them at once."""

import asyncio
import json
from urllib.parse import quote

from aiohttp import web

from services.gateway.identity import authenticate_admin
from services.gateway.upstream import call
from shared.errors import NotFound, ServiceError, ServiceUnavailable
from shared.identity import AdminSite

routes = web.RouteTableDef()

CONSUMERS = ("auth", "membership", "billing", "notify")


async def _ask_all(request: web.Request, site: AdminSite, method: str, path: str) -> dict[str, tuple[int, dict] | None]:
    """Every consumer's answer (status, body), or None for one that is down."""

    async def ask(service: str):
        try:
            status, payload, _ = await call(request, service, method, path, b"" if method == "POST" else None, site.headers())
        except ServiceUnavailable:
            return None
        return status, json.loads(payload or b"{}")

    return dict(zip(CONSUMERS, await asyncio.gather(*(ask(s) for s in CONSUMERS))))


def _failed(answers: dict) -> None:
    """A service's own error (other than 404) is the answer: it is not hidden behind the others'."""
    for answer in answers.values():
        if answer is not None and answer[0] >= 400 and answer[0] != 404:
            raise _Upstream(answer)


class _Upstream(ServiceError):
    def __init__(self, answer: tuple[int, dict]) -> None:
        error = answer[1].get("error", {})
        self.status, self.code = answer[0], error.get("code", "upstream_error")
        super().__init__(error.get("message"), details=error.get("details"))


async def dead_letters(request: web.Request, site: AdminSite) -> tuple[list[dict], list[str]]:
    """(the site's dead letters of every service, oldest first; the services that could not be asked)."""
    answers = await _ask_all(request, site, "GET", "/admin/api/dead-letters")
    _failed(answers)
    letters = [d for a in answers.values() if a is not None for d in a[1]["dead_letters"]]
    letters.sort(key=lambda d: (d["first_death"], d["service"]))
    return letters, [s for s, a in answers.items() if a is None]


async def replay(request: web.Request, site: AdminSite, message_id: str) -> list[dict]:
    """Replays the message in every service where it is dead (each applies it once); 404 when none
    of the site's dead letters has this id, 503 when not found but a service could not be asked."""
    answers = await _ask_all(request, site, "POST", f"/admin/api/dead-letters/{quote(message_id, safe='')}/replay")
    _failed(answers)
    replayed = [d for a in answers.values() if a is not None and a[0] == 200 for d in a[1]["replayed"]]
    if replayed:
        return replayed
    down = [s for s, a in answers.items() if a is None]
    if down:
        raise ServiceUnavailable(
            f"No such dead letter in the services that answered; {', '.join(down)} could not be asked.",
            details={"services": down},
        )
    raise NotFound("No such dead letter.")


@routes.get("/admin/api/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    """A service that is down is named in ``unavailable`` instead of failing the whole answer."""
    letters, unavailable = await dead_letters(request, await authenticate_admin(request))
    return web.json_response({"dead_letters": letters, "unavailable": unavailable})


@routes.post("/admin/api/dead-letters/{id}/replay")
async def replay_dead_letter(request: web.Request) -> web.Response:
    message_id = request.match_info["id"]
    replayed = await replay(request, await authenticate_admin(request), message_id)
    return web.json_response({"id": message_id, "replayed": replayed})
