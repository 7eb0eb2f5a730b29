"""Slow and many clients (issue 18, point 6): a slowloris is closed after the head
deadline, a body trickled past the body deadline is a 408, idle connections beyond
the cap do not keep a normal request out, and a connection past a cap of busy ones
is answered 503 in the one error shape. Raw sockets on 127.0.0.1."""

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from node.api.connections import read_body
from node.errors import HttpError, error_body

PAD = b"X-Pad: " + b"a" * 400 + b"\r\n\r\n"


async def reply_of(reader: asyncio.StreamReader) -> bytes:
    """One HTTP reply: its head and its Content-Length body (b"": the server closed)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return head + await reader.readexactly(length)


async def trickle(port: int, head: bytes, data: bytes, every: float) -> tuple[int, bytes | None]:
    """Send `head` at once, then `data` one byte every `every` seconds; return how many
    bytes of `data` were sent and what the server sent back (b"": it closed the
    connection; None: it was still open after the last byte)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        writer.write(head)
        await writer.drain()
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            try:
                return sent, await asyncio.wait_for(reply_of(reader), every)
            except TimeoutError:
                continue
    except ConnectionError:
        return sent, b""
    finally:
        writer.close()
    return sent, None


def error_of(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def test_a_slowloris_is_closed_after_the_head_deadline(api_swarm) -> None:
    async with api_swarm(1, server={"header_timeout": 1.0}) as swarm:
        port = swarm.nodes[0].port
        sent, reply = await trickle(port, b"GET /v1/models HTTP/1.1\r\nHost: a\r\n", PAD, 0.1)
        assert reply == b"" and sent < len(PAD)  # closed with the head still incomplete
        # a keep-alive connection trickling its second request is closed the same way
        first = b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/models HTTP/1.1\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(first)
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        closed = False
        for byte in PAD:
            try:
                writer.write(bytes([byte]))
                await writer.drain()
                chunk = await asyncio.wait_for(reader.read(65536), 0.1)
            except TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
            if not chunk:  # EOF (the rest of the first reply arrives before it)
                closed = True
                break
        writer.close()
        assert closed


async def test_a_body_read_past_its_deadline_is_a_408() -> None:
    """`read_body`, as the node's body readers call it, on a real aiohttp server whose
    middleware turns errors into the one error shape."""

    @web.middleware
    async def shape(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
            return response
        except HttpError as exc:
            status, body = error_body(exc)
            return web.json_response(body, status=status)

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await read_body(request, 1.0))

    app = web.Application(middlewares=[shape])
    app.router.add_post("/", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = site.port
        head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 60\r\n\r\n"
        sent, reply = await trickle(port, head, b"b" * 60, 0.1)
        assert reply and sent < 60
        status, body = error_of(reply)
        assert status == 408 and set(body) == {"error"}
        async with (  # a body sent at once is read
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/", data=b"x" * 60) as resp,
        ):
            assert resp.status == 200 and await resp.read() == b"x" * 60
    finally:
        await runner.cleanup()


async def test_a_node_answers_a_trickled_body_with_408(api_swarm) -> None:
    async with api_swarm(1, server={"body_timeout": 1.0}) as swarm:
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
            b"Content-Type: application/json\r\nContent-Length: 60\r\n\r\n"
        )
        sent, reply = await trickle(swarm.nodes[0].port, head, b" " * 60, 0.1)
        assert reply and sent < 60
        status, body = error_of(reply)
        assert status == 408 and set(body) == {"error"}


async def test_idle_connections_beyond_the_cap_do_not_keep_a_request_out(api_swarm) -> None:
    async with api_swarm(1, server={"max_connections": 8}) as swarm:
        node = swarm.nodes[0]
        idle = [await asyncio.open_connection("127.0.0.1", node.port) for _ in range(40)]
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(node.url + "/v1/models") as resp:
                    assert resp.status == 200

        async def closed(reader: asyncio.StreamReader) -> bool:
            try:
                return await asyncio.wait_for(reader.read(), 1) == b""
            except (TimeoutError, ConnectionError):
                return False

        evicted = await asyncio.gather(*(closed(reader) for reader, _ in idle))
        for _, writer in idle:
            writer.close()
        assert sum(evicted) >= 40 - 8 and not all(evicted)  # the oldest idle made room


async def test_past_a_cap_of_busy_connections_a_new_one_gets_503(api_swarm) -> None:
    async with api_swarm(1, server={"max_connections": 4, "body_timeout": 60.0}) as swarm:
        node = swarm.nodes[0]
        busy = []
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
            b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{"
        )
        for _ in range(4):  # each a request in progress: its body is still coming
            reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writer.write(head)
            await writer.drain()
            busy.append(writer)
        await asyncio.sleep(0)  # not a timing assertion: lets the server read the heads
        for _ in range(50):
            if len(node.runner.server.connections) == 4:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(b"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n")
        status, body = error_of(await asyncio.wait_for(reply_of(reader), 10))
        writer.close()
        assert status == 503 and set(body) == {"error"} and "connections" in str(body)
        for w in busy:
            w.close()
