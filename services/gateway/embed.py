"""Embedding the Customer Center in a site's own pages.

``GET /embed.js``: the snippet a site pastes (``<script src=".../embed.js" data-site="demo"></script>``,
optional ``data-section="invoices|payments|subscriptions|cards|account"``) inserts an iframe showing
``/center?site=...&embed=1``, passes the host page's font and colours in the iframe's URL (the Center
turns them into CSS variables), and sizes the iframe to its content from the height the Center posts
(``{"type": "cc:resize", "height": n}``; ``GET /embed/frame.js`` is the Center's side of it).

Who may embed: only the origins in the site's ``embed_origins`` (membership's site settings, asked
through ``/internal/sites/{slug}/embedding`` and cached for ``ORIGINS_TTL`` seconds). A page asked for
with ``?site=<slug>&embed=1`` gets ``frame-ancestors 'self' <those origins>`` in its CSP instead of
``'none'``; a request naming a site with an ``Origin`` header gets CORS headers only when that origin
is, exactly, one of them (scheme, host and port compared as a whole: never a prefix, suffix or pattern).

Third-party cookies: inside another site's page the browser may withhold the gateway's cookies. The
Center in embed mode therefore must not depend on them (a login inside the frame keeps its session in
the frame's own storage and sends it as a bearer token); see docs for the details.
"""

import json
import re
import time
from urllib.parse import quote, urlsplit

from aiohttp import web

from services.gateway.web.session import SITE_COOKIE, framed
from services.gateway.upstream import call
from shared.errors import ServiceUnavailable
from shared.logging import get_logger

log = get_logger("gateway.embed")

ORIGINS = web.AppKey("embed_origins", dict)
ORIGINS_TTL = 30.0
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
routes = web.RouteTableDef()


def normalise_origin(value: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None for anything that is not exactly an origin."""
    if not value or len(value) > 300 or any(c in value for c in " \t\r\n,;'\"<>\\"):
        return None
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = parts.hostname.lower()
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def allowed_origin(origin: str, allowed: list[str]) -> str | None:
    """The origin itself when it is one of ``allowed`` (compared whole), else None."""
    mine = normalise_origin(origin)
    return mine if mine is not None and mine in {normalise_origin(a) for a in allowed} else None


async def embed_origins(request: web.Request, slug: str) -> list[str]:
    """The site's embed origins (cached briefly); none for an unknown site or when membership cannot say."""
    if not _SLUG.match(slug):
        return []
    cache: dict = request.app[ORIGINS]
    hit = cache.get(slug)
    if hit and time.monotonic() - hit[1] < ORIGINS_TTL:
        return hit[0]
    try:
        status, payload, _ = await call(request, "membership", "GET", f"/internal/sites/{quote(slug)}/embedding")
    except ServiceUnavailable:
        return hit[0] if hit else []
    origins = []
    if status == 200:
        origins = [o for o in (normalise_origin(v) for v in json.loads(payload).get("embed_origins", [])) if o]
    if len(cache) > 10_000:
        cache.clear()
    cache[slug] = (origins, time.monotonic())
    return origins


def frame_ancestors(csp: str, origins: list[str]) -> str:
    """The CSP with its ``frame-ancestors`` directive allowing the page itself and ``origins``."""
    directive = "frame-ancestors " + " ".join(["'self'", *origins])
    kept = [d.strip() for d in csp.split(";") if d.strip() and not d.strip().startswith("frame-ancestors")]
    return "; ".join([*kept, directive])


def _site_of(request: web.Request) -> str:
    """The site a request is about: the logged-in session's (its cookie), else the one it names.

    The session's site wins, so a page showing a person's data is framed only by that site's origins,
    never by those of a site named in the URL."""
    return (request.cookies.get(SITE_COOKIE) or request.query.get("site", "")).strip().lower()


@web.middleware
async def embedding(request: web.Request, handler):
    """CORS for a request naming a site (preflight included), frame-ancestors for an embed page."""
    slug, origin = _site_of(request), request.headers.get("Origin")
    if request.method == "OPTIONS" and slug and origin and "Access-Control-Request-Method" in request.headers:
        allowed = allowed_origin(origin, await embed_origins(request, slug))
        if allowed is None:
            return web.Response(status=403, headers={"Vary": "Origin"})
        return web.Response(status=204, headers={
            "Access-Control-Allow-Origin": allowed, "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, X-CSRF-Token",
            "Access-Control-Max-Age": "600", "Vary": "Origin",
        })
    response = await handler(request)
    if not slug:
        return response
    origins = None
    if origin:
        origins = await embed_origins(request, slug)
        allowed = allowed_origin(origin, origins)
        response.headers.add("Vary", "Origin")
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
            response.headers["Access-Control-Allow-Credentials"] = "true"
    if framed(request) and response.content_type == "text/html":
        origins = origins if origins is not None else await embed_origins(request, slug)
        csp = response.headers.get("Content-Security-Policy", "default-src 'self'")
        response.headers["Content-Security-Policy"] = frame_ancestors(csp, origins)
        response.headers.pop("X-Frame-Options", None)
    return response


EMBED_JS = r"""(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.dataset.site) { return; }
  var base = new URL(script.src, document.baseURI).origin;
  var anchor = script.parentElement || document.body;
  var style = window.getComputedStyle(anchor);
  var link = document.querySelector("a");
  var theme = {
    font: style.fontFamily,
    color: style.color,
    background: window.getComputedStyle(document.body).backgroundColor,
    accent: link ? window.getComputedStyle(link).color : style.color
  };
  var params = new URLSearchParams({ site: script.dataset.site, embed: "1" });
  Object.keys(theme).forEach(function (k) { if (theme[k]) { params.set("theme_" + k, theme[k]); } });
  var path = "/center" + (script.dataset.section ? "/" + encodeURIComponent(script.dataset.section) : "");
  var frame = document.createElement("iframe");
  frame.src = base + path + "?" + params.toString();
  frame.title = script.dataset.title || "Customer Center";
  frame.style.cssText = "width:100%;border:0;display:block;min-height:200px";
  frame.setAttribute("loading", "lazy");
  window.addEventListener("message", function (event) {
    if (event.origin !== base || event.source !== frame.contentWindow) { return; }
    var data = event.data || {};
    if (data.type === "cc:resize" && typeof data.height === "number" && data.height > 0 && data.height < 100000) {
      frame.style.height = Math.ceil(data.height) + "px";
    }
  });
  script.parentNode.insertBefore(frame, script.nextSibling);
})();
"""

FRAME_JS = r"""(function () {
  "use strict";
  if (window.parent === window) { return; }
  var root = document.documentElement, params = new URLSearchParams(location.search);
  ["font", "color", "background", "accent"].forEach(function (k) {
    // The snippet passes the host's look on the first page; later pages in the frame (links, forms,
    // the login's redirect) keep it from this tab's storage.
    var v = params.get("theme_" + k);
    try {
      if (v) { sessionStorage.setItem("cc-host-" + k, v); } else { v = sessionStorage.getItem("cc-host-" + k); }
    } catch (e) { /* storage refused: this page only */ }
    if (v && /^[\w\s,#().%'"-]{1,200}$/.test(v)) { root.style.setProperty("--cc-host-" + k, v); }
  });
  var last = 0;
  function report() {
    var height = root.scrollHeight;
    if (height !== last) { last = height; window.parent.postMessage({ type: "cc:resize", height: height }, "*"); }
  }
  new ResizeObserver(report).observe(document.body);
  window.addEventListener("load", report);
})();
"""


@routes.get("/embed.js")
async def embed_js(request: web.Request) -> web.Response:
    return web.Response(text=EMBED_JS, content_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})


@routes.get("/embed/frame.js")
async def frame_js(request: web.Request) -> web.Response:
    return web.Response(text=FRAME_JS, content_type="application/javascript",
                        headers={"Cache-Control": "public, max-age=300"})


def setup(app: web.Application) -> None:
    """Routes, the origins cache, and the middleware just inside the correlation id's, outside the
    others, so it sees every page's final CSP."""
    from shared.http import correlation_middleware

    app[ORIGINS] = {}
    app.add_routes(routes)
    app.middlewares.insert(list(app.middlewares).index(correlation_middleware) + 1, embedding)
