"""Slow and many clients: a head deadline, a body deadline and a connection cap.

aiohttp (3.14) has no header-read timeout of its own, but its keep-alive timer runs
from a connection's opening and from the end of each response, and closes the
connection if no complete request head has arrived by then. So the head deadline
is `keepalive_timeout=server.header_timeout`: a slowloris that trickles a head
byte by byte is closed after that many seconds, and an idle keep-alive connection
after the same time. The default (20 s) stays above aiohttp's client-side
keep-alive (15 s), so a peer's pooled connection is closed by the peer's client
first and never reused in the instant the server closes it.

The body deadline is `read_body`, which every reader of a request body calls: a
body not complete `server.body_timeout` seconds after its head is a 408, and the
connection is closed once the reply is out.

The cap (`server.max_connections`) is kept by the low-level server the runner
makes (`GuardedRunner`): a connection past it first makes room by closing the
oldest idle connection (one with no request in progress: an idle keep-alive or a
head still arriving), so that idle connections, however many, cannot keep a
normal request out; when every connection has a request in progress, the new one
is answered 503 in the one error shape and closed before anything is read.
"""

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from node.config import ServerConfig
from node.errors import HttpError, error_body

__all__ = ["GuardedRunner", "read_body"]

log = logging.getLogger(__name__)


async def read_body(request: web.Request, timeout: float) -> bytes:
    """The request's whole body, or a 408 if it is not in within `timeout` seconds
    (the connection is then closed after the reply)."""
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        request.protocol.close()  # no keep-alive after a half-read body
        raise HttpError(408, f"the request body was not received within {timeout:g} s") from None


def _busy(handler: RequestHandler) -> bool:
    """Whether a connection has a request in progress or parsed and waiting (aiohttp's
    handler state: no public accessor)."""
    in_progress = getattr(handler, "_request_in_progress", True)  # unknown: busy, kept
    return bool(in_progress or getattr(handler, "_messages", None))


def _refusal() -> bytes:
    _, body = error_body(HttpError(503, "this node has too many open connections; retry"))
    raw = json.dumps(body).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Retry-After: 1\r\nConnection: close\r\nContent-Length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


class _CappedServer(web.Server):
    """aiohttp's low-level server, keeping at most `max_connections` open."""

    max_connections: int
    _evicted: set[RequestHandler]
    """Connections closed to make room, until aiohttp reports them lost."""

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self.connections) - len(self._evicted) <= self.max_connections:
            return
        idle = next(
            (
                h
                for h in self.connections  # oldest first
                if h is not handler and h not in self._evicted and not _busy(h)
            ),
            None,
        )
        if idle is not None:
            self._evicted.add(idle)
            idle.force_close()
            return
        log.warning("%d connections, all busy: refusing a new one", len(self.connections))
        self._evicted.add(handler)
        transport.write(_refusal())
        handler.force_close()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._evicted.discard(handler)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` with the head deadline and the connection cap of `config`."""

    def __init__(self, app: web.Application, config: ServerConfig, **kwargs: Any):
        super().__init__(app, keepalive_timeout=config.header_timeout, **kwargs)
        self._max_connections = config.max_connections

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # the application's own server, given the cap (aiohttp builds it in
        # `Application._make_handler`, with no hook for another class)
        server.__class__ = _CappedServer
        assert isinstance(server, _CappedServer)
        server.max_connections = self._max_connections
        server._evicted = set()
        return server
