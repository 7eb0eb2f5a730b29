"""Input never kills a node: nested and oversized JSON to every POST route, from a
peer's `/health` and from a peer's reply (issue 18, review point 1).

The node runs as its own process (`tests.hostile_swarm`, scripted engine) so that the
attack's failure mode, the process dying of SIGSEGV inside `json.loads`, shows as a
dead child. On the code before the bounded reader every part of this test kills it.
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account

from node.api.routes import routes
from tests.procs import Proc

NESTED = b"[" * 200_000
"""About twice what overflows the C stack when eth_account has raised the recursion limit."""
FAKE_HEALTH, FAKE_REPLIER = Account.create().address, Account.create().address


class FakePeer:
    """A member that serves nested JSON: on `/health` (`nested_health`) or in its replies."""

    def __init__(self, nested_health: bool):
        self.nested_health = nested_health
        self.hits: dict[str, int] = {}

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        if request.path == "/health" and not self.nested_health:
            return web.json_response({"status": "ok", "model": "scripted-lm"})
        return web.Response(body=NESTED, content_type="application/json")


async def _serve(peer: FakePeer) -> AsyncIterator[str]:
    runner = web.AppRunner(peer.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def hostile(tmp_path: Path) -> AsyncIterator[tuple[Proc, list[str], FakePeer, FakePeer]]:
    nested_health, replier = FakePeer(nested_health=True), FakePeer(nested_health=False)
    health_gen, replier_gen = _serve(nested_health), _serve(replier)
    health_url, replier_url = await anext(health_gen), await anext(replier_gen)
    args = [
        sys.executable,
        "-m",
        "tests.hostile_swarm",
        str(tmp_path / "data"),
        "--peer",
        f"{FAKE_HEALTH}={health_url}",
        "--peer",
        f"{FAKE_REPLIER}={replier_url}",
    ]
    proc = Proc(args, tmp_path / "swarm.log")
    try:
        urls = await _ready(proc)
        yield proc, urls, nested_health, replier
    finally:
        proc.stop()
        for gen in (health_gen, replier_gen):
            with pytest.raises(StopAsyncIteration):
                await anext(gen)


async def _ready(proc: Proc, timeout: float = 60) -> list[str]:
    for _ in range(int(timeout * 10)):
        for line in proc.output().splitlines():
            if line.startswith("ready "):
                return list(json.loads(line[6:])["urls"])
        assert proc.popen.poll() is None, proc.output()[-3000:]
        await asyncio.sleep(0.1)
    raise TimeoutError(proc.output()[-3000:])


def _post_routes() -> list[str]:
    return sorted(r.path for r in routes if isinstance(r, web.RouteDef) and r.method == "POST")


def _alive(proc: Proc) -> None:
    assert proc.popen.poll() is None, (
        f"the node died ({proc.popen.returncode}):\n" + (proc.output()[-3000:])
    )


def _one_error_shape(body: Any) -> dict[str, Any]:
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"]), body
    return dict(body["error"])


async def test_nested_and_oversized_bodies_to_every_post_route_are_refused(hostile) -> None:
    proc, urls, _, _ = hostile
    paths = _post_routes()
    assert "/v1/chat/completions" in paths and "/swarm/v1/answer" in paths
    async with aiohttp.ClientSession() as http:
        for path in paths:
            async with http.post(urls[0] + path, data=NESTED) as resp:
                assert resp.status == 400, path
                assert _one_error_shape(await resp.json())["code"] == "too_deeply_nested"
            async with http.post(urls[0] + path, data=b" " * 2_000_000) as resp:
                assert resp.status == 413, path
                _one_error_shape(await resp.json())
            _alive(proc)
        async with http.get(urls[0] + "/health") as resp:
            assert resp.status in (200, 503)


async def test_a_peer_serving_nested_health_or_replies_kills_no_node(hostile) -> None:
    proc, urls, nested_health, replier = hostile
    for _ in range(150):  # the health loop polls every 5 s
        if nested_health.hits.get("/health", 0) >= 2 and replier.hits.get("/health", 0) >= 2:
            break
        await asyncio.sleep(0.1)
    assert nested_health.hits.get("/health", 0) >= 2
    _alive(proc)
    body = {"model": "swarm", "messages": [{"role": "user", "content": "Where do rivers run?"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(urls[0] + "/v1/chat/completions", json=body) as resp,
    ):
        reply = await resp.json()
    assert replier.hits.get("/swarm/v1/answer", 0) >= 1  # it was asked and replied nested
    _alive(proc)
    assert resp.status == 200, reply  # the round went on without it
    assert FAKE_REPLIER not in {c["node"] for c in reply["swarm"]["candidates"]}
