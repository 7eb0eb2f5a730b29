"""The openai backend sends a request once more when the server had closed the
connection under it (uvicorn, vLLM's server, drops idle keep-alive connections after
5 s). STAND-IN: a loopback aiohttp server that drops the first request's connection
without answering, the one branch vLLM's server cannot be made to take on demand."""

import aiohttp
from aiohttp import web

from node.inference.openai_backend import OpenAIBackend
from tests.procs import free_port


async def test_a_request_on_a_dropped_connection_is_sent_again() -> None:
    seen: list[int] = []

    async def tokenize(request: web.Request) -> web.StreamResponse:
        seen.append(len(seen))
        if len(seen) == 1:
            assert request.transport is not None
            request.transport.close()  # no reply: the client sees the server disconnect
            return web.Response()
        return web.json_response({"tokens": [7, 8]})

    app = web.Application()
    app.router.add_post("/tokenize", tokenize)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    backend = OpenAIBackend(aiohttp.ClientSession(), f"http://127.0.0.1:{port}/v1", "m", "m")
    try:
        assert await backend.tokenize("hello") == [7, 8]
        assert seen == [0, 1]
    finally:
        await backend.close()
        await runner.cleanup()
