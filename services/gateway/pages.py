"""Server-rendered pages (Jinja2, autoescaped)."""

from pathlib import Path

import jinja2
from aiohttp import web

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(name: str, *, status: int = 200, **context) -> web.Response:
    return web.Response(text=_env.get_template(name).render(**context), status=status, content_type="text/html")


@web.middleware
async def security_headers(request: web.Request, handler):
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Pages carry tokens in their URL: never leak them to another site.
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response
