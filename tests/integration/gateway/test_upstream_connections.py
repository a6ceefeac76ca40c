"""The gateway's own HTTP/1.1 client (``services/gateway/upstream.py``) against real aiohttp servers on
loopback: answers with a length, chunked, or up to the close; HEAD; kept-alive connections reused, and
one the service closed replaced without the caller noticing for a GET (never re-sent for a POST); a
slow service times out; a header value cannot smuggle a second header."""

import asyncio

import pytest
from aiohttp import web

from services.gateway.upstream import Upstreams, UpstreamClosed, _request_bytes
from tests.conftest import free_port

HOST = "127.0.0.1"


@pytest.fixture
async def service():
    """``await service(routes)`` starts an aiohttp server with those routes and answers its port."""
    runners = []

    async def start(routes: web.RouteTableDef, keepalive_timeout: float = 75.0) -> int:
        app = web.Application()
        app.add_routes(routes)
        runner = web.AppRunner(app, keepalive_timeout=keepalive_timeout, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, HOST, port).start()
        runners.append(runner)
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


async def ask(pool: Upstreams, port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0):
    raw = _request_bytes(method, path, f"{HOST}:{port}", {"X-Correlation-Id": "t-1"}, body)
    return await pool.request(HOST, port, method, raw, timeout)


async def test_answers_of_every_framing_and_connections_kept_alive(service):
    routes = web.RouteTableDef()
    peers = []

    @routes.get("/length")
    async def length(request):
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"ok": True, "correlation": request.headers["X-Correlation-Id"]}, headers={"Retry-After": "3"})

    @routes.post("/echo")
    async def echo(request):
        peers.append(request.transport.get_extra_info("peername"))
        return web.Response(body=await request.read(), status=201, content_type="application/json")

    @routes.get("/chunked")
    async def chunked(request):
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    @routes.get("/empty")
    async def empty(request):
        return web.Response(status=204)

    port = await service(routes)
    pool = Upstreams()
    try:
        status, headers, body = await ask(pool, port, "GET", "/length")
        assert (status, body) == (200, b'{"ok": true, "correlation": "t-1"}')
        assert headers["retry-after"] == "3" and headers["content-type"].startswith("application/json")
        status, _, body = await ask(pool, port, "POST", "/echo", b'{"a": 1}')
        assert (status, body) == (201, b'{"a": 1}')
        assert (await ask(pool, port, "GET", "/chunked"))[2] == b"one,two,three"
        assert (await ask(pool, port, "GET", "/empty"))[0] == 204
        status, headers, body = await ask(pool, port, "HEAD", "/length")
        assert status == 200 and body == b"" and int(headers["content-length"]) > 0
        await ask(pool, port, "GET", "/length")
        # One after the other, every call went over the same kept-alive connection.
        assert len(set(peers)) == 1, peers

        # Concurrent calls each get a connection of their own.
        answers = await asyncio.gather(*(ask(pool, port, "GET", "/length") for _ in range(5)))
        assert {a[0] for a in answers} == {200}
    finally:
        pool.close()


async def test_an_answer_ended_by_the_close():
    """A service answering without a length and closing: the body is what came before the close."""
    server_port = free_port()

    async def answer(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, HOST, server_port)
    pool = Upstreams()
    try:
        status, _, body = await ask(pool, server_port, "GET", "/")
        assert (status, body) == (200, b"until the end")
    finally:
        pool.close()
        server.close()


async def test_a_connection_the_service_closed_is_replaced_for_a_get_never_resent_for_a_post():
    """A service closes an idle kept-alive connection; a GET that finds it closed is sent again, once,
    on a new one. A POST is never sent twice: the caller gets the error (the gateway's 503)."""
    server_port = free_port()
    received = []

    async def answer_once_then_close(reader, writer):
        # Answers one request, then closes the connection at the moment the next one arrives.
        head = await reader.readuntil(b"\r\n\r\n")
        received.append(head.split(b" ")[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            received.append(head.split(b" ")[0] + b" (dropped)")
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    server = await asyncio.start_server(answer_once_then_close, HOST, server_port)
    pool = Upstreams()
    try:
        assert (await ask(pool, server_port, "GET", "/a"))[2] == b"ok"
        assert (await ask(pool, server_port, "GET", "/b"))[2] == b"ok"  # the first connection dropped it
        assert received == [b"GET", b"GET (dropped)", b"GET"]
        with pytest.raises(UpstreamClosed):
            await ask(pool, server_port, "POST", "/c", b"{}")
        assert received[-1] == b"POST (dropped)" and received.count(b"POST") == 0
    finally:
        pool.close()
        server.close()


async def test_a_slow_service_times_out_and_its_connection_is_not_reused(service):
    routes = web.RouteTableDef()

    @routes.get("/slow")
    async def slow(request):
        await asyncio.sleep(float(request.query.get("s", "0")))
        return web.json_response({"slept": True})

    port = await service(routes)
    pool = Upstreams()
    try:
        with pytest.raises(TimeoutError):
            await ask(pool, port, "GET", "/slow?s=1", timeout=0.2)
        assert (await ask(pool, port, "GET", "/slow?s=0"))[2] == b'{"slept": true}'
    finally:
        pool.close()


def test_a_header_or_path_cannot_carry_a_line_break():
    with pytest.raises(ValueError):
        _request_bytes("GET", "/a", "h", {"X-Correlation-Id": "x\r\nX-CC-Contact-Id: someone"}, None)
    with pytest.raises(ValueError):
        _request_bytes("GET", "/a HTTP/1.1\r\nX: y", "h", {}, None)
