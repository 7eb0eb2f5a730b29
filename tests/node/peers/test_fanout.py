"""The fan-out over real HTTP on loopback: replies, refusals and absences kept apart."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from node.errors import BadReply, ClaimRejected, PeerUnreachable, RoundFailed, error_body
from node.peers.directory import Directory
from node.peers.fanout import fan_out
from node.peers.local import LocalPeer
from node.peers.transport import PeerClient
from tests.procs import free_port

PATH = "/swarm/v1/verify"


def _error(exc: Exception) -> web.Response:
    status, body = error_body(exc)
    return web.json_response(body, status=status)


BEHAVIOURS = {
    "ok": lambda: web.json_response({"vote": "yes"}),
    "refuses_claim": lambda: _error(ClaimRejected("claims gpt-4", code="model_mismatch")),
    "refuses_request": lambda: _error(RoundFailed("busy")),
    "garbles": lambda: web.Response(text="<html>oops</html>", status=200),
    "bad_vote": lambda: web.json_response({"vote": "maybe"}),
}


@pytest.fixture
async def peers() -> AsyncIterator[Directory]:
    runners = []
    urls = {}
    for name, reply in [*BEHAVIOURS.items(), ("slow", None)]:

        async def handle(_: web.Request, reply: Any = reply) -> web.StreamResponse:
            if reply is None:
                await asyncio.sleep(1.5)
                return web.json_response({"vote": "late"})
            response: web.StreamResponse = reply()
            return response

        app = web.Application()
        app.router.add_post(PATH, handle)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        urls[name] = f"http://127.0.0.1:{port}"
    urls["down"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = await PeerClient.create()
    directory = Directory("local", client)
    directory.set_remotes(list(urls.items()))

    async def local(message: Any) -> dict[str, Any]:
        raise ClaimRejected("token ids outside the vocabulary", code="invalid_token_ids")

    directory.local = LocalPeer("local", {PATH: local})
    yield directory
    await client.close()
    for runner in runners:
        await runner.cleanup()


def read(address: str, reply: Any) -> str:
    if reply.get("vote") not in ("yes", "no"):
        raise ValueError(f"not a vote: {reply}")
    return str(reply["vote"])


async def test_replies_refusals_and_absences_are_kept_apart(peers: Directory) -> None:
    asked = [*BEHAVIOURS, "slow", "down", "local", "stranger"]
    got = await fan_out(peers, PATH, {key: {"m": 1} for key in asked}, 1.0, read)
    assert got.replies == {"ok": "yes"}
    assert set(got.refused) == {"refuses_claim", "refuses_request", "local"}
    assert got.refused["refuses_claim"].about_claim and got.refused["local"].about_claim
    assert got.refused["local"].peer_code == "invalid_token_ids"  # the same as over HTTP
    assert not got.refused["refuses_request"].about_claim
    assert isinstance(got.absent["garbles"], BadReply)  # 200, but not JSON
    assert isinstance(got.absent["bad_vote"], BadReply)  # fails the phase's check
    for name in ("slow", "down", "stranger"):
        assert isinstance(got.absent[name], PeerUnreachable), name
    assert set(got.failures()) == set(asked) - {"ok"}


async def test_an_unreachable_peer_is_marked_unhealthy_until_it_answers_again(
    peers: Directory,
) -> None:
    await fan_out(peers, PATH, {"down": {}, "ok": {}}, 1.0, read)
    health = {p.address: p.healthy for p in peers.remotes}
    assert health["down"] is False and health["ok"] is True
    assert "down" not in peers.pool("m") and "ok" in peers.pool("m")  # models not known yet
    assert peers.pool("m", known_only=True) == ["local"]
