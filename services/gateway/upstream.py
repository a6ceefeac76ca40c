"""Calling the services: kept-alive connections, timeouts, a clear 503 naming the service that is down.

Every customer API call crosses the gateway, so the call to the service is the gateway's hot path.
aiohttp's client (cookies, redirects, tracing, URL objects, a timer per phase) cost about as much CPU
per call as the rest of the gateway together; the services are ours and answer plain HTTP/1.1 with a
``Content-Length``, so ``call`` speaks HTTP/1.1 itself over a small pool of kept-alive connections
(``Upstreams``) and only what that needs: a request line, a few headers and a body out; a status,
headers and a body (``Content-Length``, chunked, or up to the close) back. An ``https://`` upstream
URL goes through aiohttp's client (``CLIENT``), which the gateway's background calls use too.
"""

import asyncio
import re
import time
from collections import deque
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from shared.app import SETTINGS
from shared.errors import ServiceUnavailable
from shared.http import CORRELATION_HEADER
from shared.logging import get_logger

log = get_logger("gateway.upstream")

CLIENT = web.AppKey("client", aiohttp.ClientSession)
UPSTREAMS = web.AppKey("upstreams", object)
MAX_BODY = 64 * 1024
MAX_CONNECTIONS = 200  # to all services together, as aiohttp's connector had
KEEPALIVE_SECONDS = 30.0  # an idle connection older than this is closed rather than reused
_PASS_HEADERS = ("Retry-After", "Cache-Control", "Location")
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")  # nothing that could end a request line or a header early


async def client_session(app: web.Application):
    settings = app[SETTINGS]
    app[CLIENT] = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.upstream_timeout),
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS),
    )
    app[UPSTREAMS] = Upstreams()
    yield
    app[UPSTREAMS].close()
    await app[CLIENT].close()


class UpstreamClosed(ConnectionError):
    """The connection ended before the whole answer arrived."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection to a service: one request at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._buffer = bytearray()
        self._answer: asyncio.Future | None = None
        self._head_request = False
        self._head: tuple[int, dict[str, str], int] | None = None  # status, headers, body start
        self._keep = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        answer = self._answer
        if answer is not None and not answer.done():
            body = self._body_up_to_close()
            if body is not None:
                answer.set_result(body)
            else:
                answer.set_exception(UpstreamClosed(f"closed after {len(self._buffer)} bytes"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():  # nothing asked: the connection is not usable
            self.close()
            return
        self._buffer += data
        try:
            answer = self._parse()
        except ValueError as exc:
            self._answer.set_exception(UpstreamClosed(f"unreadable answer: {exc}"))
            self.close()
            return
        if answer is not None:
            self._answer.set_result(answer)

    def send(self, request: bytes, head_request: bool) -> asyncio.Future:
        self._buffer.clear()
        self._head = None
        self._head_request = head_request
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    @property
    def received_anything(self) -> bool:
        return bool(self._buffer) or self._head is not None

    def _parse(self) -> tuple[int, dict[str, str], bytes, bool] | None:
        """(status, lower-cased headers, body, reusable) once the whole answer is in, else None."""
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > 64 * 1024:
                    raise ValueError("headers too long")
                return None
            lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            if not version.startswith("HTTP/1."):
                raise ValueError("not HTTP/1.x")
            status = int(rest[:3])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:  # an interim answer: the real one follows
                del buffer[: end + 4]
                return self._parse()
            self._head = (status, headers, end + 4)
            self._keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        status, headers, start = self._head
        if self._head_request or status in (204, 304):
            return status, headers, b"", self._keep and len(buffer) == start
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = _dechunk(buffer, start)
            return None if body is None else (status, headers, body, self._keep)
        length = headers.get("content-length")
        if length is None:
            return None  # the body ends when the service closes the connection
        end = start + int(length)
        if len(buffer) < end:
            return None
        return status, headers, bytes(buffer[start:end]), self._keep and len(buffer) == end

    def _body_up_to_close(self):
        if self._head is None or self._head[1].get("content-length") is not None:
            return None
        if "chunked" in self._head[1].get("transfer-encoding", "").lower():
            return None
        status, headers, start = self._head
        return status, headers, bytes(self._buffer[start:]), False

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _dechunk(buffer: bytearray, position: int) -> bytes | None:
    """A chunked body from ``position``, or None while its last chunk has not arrived."""
    parts = []
    while True:
        line_end = buffer.find(b"\r\n", position)
        if line_end < 0:
            return None
        size = int(bytes(buffer[position:line_end]).split(b";")[0], 16)
        position = line_end + 2
        if size == 0:  # the last chunk, then trailers (usually none) and an empty line
            if buffer[position : position + 2] == b"\r\n" or buffer.find(b"\r\n\r\n", position) >= 0:
                return b"".join(parts)
            return None
        if len(buffer) < position + size + 2:
            return None
        parts.append(bytes(buffer[position : position + size]))
        position += size + 2


class Upstreams:
    """Idle kept-alive connections per service address, at most ``MAX_CONNECTIONS`` open in all."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._addresses: dict[str, tuple[str, int, str, str]] = {}
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)
        self._open: set[_Connection] = set()

    def address(self, base_url: str) -> tuple[str, int, str, str] | None:
        """(host, port, Host header, path prefix) of an ``http://`` base URL; None for another scheme."""
        known = self._addresses.get(base_url)
        if known is None:
            parts = urlsplit(base_url)
            if parts.scheme != "http" or not parts.hostname:
                return None
            known = (parts.hostname, parts.port or 80, parts.netloc, parts.path.rstrip("/"))
            self._addresses[base_url] = known
        return known

    async def request(
        self, host: str, port: int, method: str, request: bytes, timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        async with self._slots, asyncio.timeout(timeout):
            connection = self._take(host, port)
            if connection is not None:
                try:
                    return await self._exchange(connection, host, port, method, request)
                except UpstreamClosed:
                    # A kept-alive connection the service had just closed: nothing was answered, so an
                    # idempotent call is safely sent again, once, on a new connection.
                    if connection.received_anything or method not in _IDEMPOTENT:
                        raise
            return await self._exchange(await self._connect(host, port), host, port, method, request)

    async def _exchange(
        self, connection: "_Connection", host: str, port: int, method: str, request: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            status, headers, body, keep = await connection.send(request, method == "HEAD")
        except BaseException:  # closed, unreadable, timed out or cancelled mid-answer: spoilt
            self._forget(connection)
            raise
        if keep and not connection.closed:
            connection.idle_since = time.monotonic()
            self._idle.setdefault((host, port), deque()).append(connection)
        else:
            self._forget(connection)
        return status, headers, body

    def _take(self, host: str, port: int) -> _Connection | None:
        idle = self._idle.get((host, port))
        while idle:
            connection = idle.pop()
            fresh = time.monotonic() - connection.idle_since < KEEPALIVE_SECONDS
            if fresh and not connection.closed and not connection.transport.is_closing():
                return connection
            self._forget(connection)
        return None

    async def _connect(self, host: str, port: int) -> _Connection:
        _, connection = await asyncio.get_running_loop().create_connection(_Connection, host, port)
        self._open.add(connection)
        return connection

    def _forget(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def close(self) -> None:
        for connection in list(self._open):
            self._forget(connection)
        self._idle.clear()


def _request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    if _UNSAFE.search(path) or any(_UNSAFE.search(k) or "\r" in v or "\n" in v for k, v in headers.items()):
        raise ValueError("unsafe request line or header")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    # surrogateescape: a header value aiohttp decoded from the client's bytes goes out as those bytes
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + (body or b"")


async def call(
    request: web.Request,
    service: str,
    method: str,
    path: str,
    body: bytes | None = None,
    identity: dict[str, str] | None = None,
) -> tuple[int, bytes, dict]:
    """Call a service with the request's correlation id and, when given, the caller's identity headers."""
    settings = request.app[SETTINGS]
    base = getattr(settings, f"{service}_url")
    headers = {CORRELATION_HEADER: request["correlation_id"], "X-Forwarded-For": request.remote or ""}
    if identity:
        headers.update(identity)
    if body is not None:
        headers["Content-Type"] = "application/json"
    upstreams: Upstreams = request.app[UPSTREAMS]
    address = upstreams.address(base)
    try:
        if address is None:
            status, answer_headers, payload = await _call_with_aiohttp(request, base.rstrip("/") + path, method, body, headers)
        else:
            host, port, host_header, prefix = address
            raw = _request_bytes(method, prefix + path, host_header, headers, body)
            status, answer_headers, payload = await upstreams.request(host, port, method, raw, settings.upstream_timeout)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
        log.warning("upstream.unavailable", service=service, path=path, error=type(exc).__name__)
        raise ServiceUnavailable(
            f"The {service} service is unavailable. Try again shortly.", details={"service": service}
        ) from None
    passed = {h: answer_headers[h.lower()] for h in _PASS_HEADERS if h.lower() in answer_headers}
    passed["Content-Type"] = answer_headers.get("content-type", "application/json")
    return status, payload, passed


async def _call_with_aiohttp(request: web.Request, url: str, method: str, body, headers) -> tuple[int, dict, bytes]:
    """An ``https://`` service."""
    async with request.app[CLIENT].request(method, url, data=body, headers=headers) as response:
        payload = await response.read()
        return response.status, {k.lower(): v for k, v in response.headers.items()}, payload


async def forward(
    request: web.Request, service: str, path: str | None = None, identity: dict[str, str] | None = None
) -> web.Response:
    """Pass a JSON API call through to a service and its answer back, unchanged.

    Only the body, the correlation id and the identity the gateway established travel upstream: a
    client's own headers (``X-CC-*`` included) never do.
    """
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    status, payload, headers = await call(request, service, request.method, path or request.path_qs, body, identity)
    content_type = headers.pop("Content-Type").split(";")[0]
    return web.Response(body=payload, status=status, headers=headers, content_type=content_type)
