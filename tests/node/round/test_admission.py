"""Admission control: a flood of each route until 429, refused at once, never queued.

Client route: a scripted swarm whose engines hold every generation until the test
lets them go (`Gated`, a STAND-IN for a busy engine: a real one cannot be held on
demand), so rounds stay in flight; past the limit the client gets 429 with
`Retry-After` in the one error shape, streaming included, and the count shows in
/metrics and /swarm/v1/info. Peer routes: signed messages from registered and
unregistered keys against each route's per-sender budget. Real keys, signatures,
HTTP on loopback and logs.
"""

import asyncio
from typing import Any

import aiohttp
import pytest
from eth_account import Account

from node.inference.base import Chat, Generation, SamplingSpec
from node.serve import PATHS
from reputation.envelope import sign_envelope
from tests.node.round.crafted import announce, post
from tests.node.round.test_branches import text
from tests.scripted import ScriptedBackend, prefer


class Gated(ScriptedBackend):
    """A scripted backend whose generations wait until `gate` is set."""

    gate: asyncio.Event | None = None
    waiting: int = 0

    async def generate(self, messages: Chat, sampling: SamplingSpec) -> Generation:
        assert self.gate is not None
        self.waiting += 1
        await self.gate.wait()
        return await super().generate(messages, sampling)


def gated(model: Any, n: int, gate: asyncio.Event) -> list[ScriptedBackend]:
    """`n` gated backends; the gate is open until the test closes it (the node measures
    its engine's speed at start)."""
    gate.set()
    out: list[ScriptedBackend] = []
    for tag in "abc"[:n]:
        backend = Gated(model, text(tag), prefers=prefer("BEST"))
        backend.gate = gate
        out.append(backend)
    return out


async def chat(url: str, model: str = "swarm", **extra: Any) -> tuple[int, Any, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi?"}], **extra}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/v1/chat/completions", json=body) as r,
    ):
        raw = await r.read()
        try:
            return r.status, await r.json(content_type=None), r.headers
        except ValueError:
            return r.status, raw, r.headers


async def until(condition: Any) -> None:
    """Wait (without a deadline of its own: pytest-timeout guards it) until true."""
    while not condition():
        await asyncio.sleep(0.01)


async def test_client_rounds_beyond_the_limit_get_429_with_retry_after(
    scripted_swarm, model
) -> None:
    gate = asyncio.Event()
    limits = {"max_rounds_in_flight": 2, "max_plain_in_flight": 1}
    async with scripted_swarm(gated(model, 3, gate), round=limits) as s:
        gate.clear()
        entry, service = s.nodes[0], s.nodes[0].service
        held = [asyncio.create_task(chat(entry.url)) for _ in range(2)]
        await until(lambda: service.rounds.count == 2)
        status, body, headers = await chat(entry.url)
        assert status == 429, body
        assert body["error"]["type"] == "rate_limit_error"
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert int(headers["Retry-After"]) >= 1
        # a stream is refused before it opens: a plain JSON 429, no event stream
        status, body, headers = await chat(entry.url, stream=True)
        assert status == 429 and headers["Content-Type"].startswith("application/json")
        # the plain path has its own cap
        plain = asyncio.create_task(chat(entry.url, model="scripted-lm"))
        await until(lambda: service.plain.count == 1)
        status, body, _ = await chat(entry.url, model="scripted-lm")
        assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded")
        info = await s.get("/swarm/v1/info")
        assert info["admission"]["rounds"] == {"in_flight": 2, "limit": 2}
        assert info["admission"]["plain"] == {"in_flight": 1, "limit": 1}
        async with aiohttp.ClientSession() as http, http.get(entry.url + "/metrics") as r:
            metrics = await r.text()
        assert 'swarm_in_flight{kind="rounds"} 2.0' in metrics
        assert 'swarm_admission_refused_total{route="/v1/chat/completions"} 3.0' in metrics
        gate.set()  # the admitted ones finish normally, and free their places
        for status, body, _ in await asyncio.gather(*held, plain):
            assert status == 200, body
        assert (service.rounds.count, service.plain.count) == (0, 0)
        status, body, _ = await chat(entry.url)
        assert status == 200, body


async def test_bad_input_is_a_400_not_a_429_and_takes_no_place(scripted_swarm, model) -> None:
    gate = asyncio.Event()
    async with scripted_swarm(gated(model, 2, gate), round={"max_rounds_in_flight": 1}) as s:
        service = s.nodes[0].service
        status, _, _ = await chat(s.nodes[0].url, model="nope")
        assert status in (400, 404) and service.rounds.count == 0
        gate.set()


def _junk(signer: Any, path: str, i: int) -> dict[str, Any]:
    """A signed message each route refuses quickly (a 4xx after the budget's charge)."""
    kind = {
        "answer": "announce",
        "judge": "judge_request",
        "verify": "verify_request",
        "cosign": "settle_request",
        "calibrate": "calibrate_request",
    }[path]
    return sign_envelope(signer, kind, "0x" + f"{i:064x}", {"junk": i})


@pytest.mark.parametrize("path", list(PATHS))
async def test_a_flood_of_each_peer_route_gets_429_past_the_senders_budget(
    scripted_swarm, model, path: str
) -> None:
    budget = {"peer_burst": 3, "peer_rate": 0.001, "peer_in_flight": 8}
    backends = [ScriptedBackend(model, text(t)) for t in "ab"]
    async with scripted_swarm(backends, round=budget) as s:
        target, member = s.nodes[0], s.nodes[1].ctx.account
        got = [(await post(target.url, PATHS[path], _junk(member, path, i)))[0] for i in range(4)]
        assert all(400 <= g < 500 and g != 429 for g in got[:3]), got
        status, body, headers = await post(target.url, PATHS[path], _junk(member, path, 9))
        assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded")
        assert got[3] == 429 and int(headers["Retry-After"]) >= 1
        # strangers share one budget, and a forged sender spends nobody's but theirs
        strangers = [Account.create() for _ in range(4)]
        spent = [
            (await post(target.url, PATHS[path], _junk(k, path, i)))[0]
            for i, k in enumerate(strangers)
        ]
        assert spent[-1] == 429, spent
        other = s.nodes[1].ctx.address
        forged = {**_junk(strangers[0], path, 7), "sender": other}
        assert (await post(target.url, PATHS[path], forged))[0] == 429


async def test_a_senders_requests_in_flight_are_capped(scripted_swarm, model) -> None:
    gate = asyncio.Event()
    budget = {"peer_in_flight": 1}
    async with scripted_swarm(gated(model, 2, gate), round=budget) as s:
        gate.clear()
        target, member = s.nodes[0], s.nodes[1].ctx.account
        pool = [member.address, target.ctx.address]  # both drawn
        engine: Any = s.backends[0]
        before = engine.waiting  # the speed probe at start generated once
        first = asyncio.create_task(post(target.url, PATHS["answer"], announce(member, pool)))
        await until(lambda: engine.waiting == before + 1)
        status, body, _ = await post(target.url, PATHS["answer"], announce(member, pool))
        assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded")
        gate.set()
        status, body, _ = await first
        assert status == 200 and body["type"] == "answer", body


async def test_engine_work_for_all_peers_together_is_capped(scripted_swarm, model) -> None:
    """Two members, each within its own budget, cannot make the engine do more than the
    node's one cap on peers' engine work (`round.max_peer_work`)."""
    gate = asyncio.Event()
    async with scripted_swarm(gated(model, 3, gate), round={"max_peer_work": 1}) as s:
        gate.clear()
        target = s.nodes[0]
        one, two = s.nodes[1].ctx.account, s.nodes[2].ctx.account
        engine: Any = s.backends[0]
        before = engine.waiting
        pool = [one.address, target.ctx.address]
        first = asyncio.create_task(post(target.url, PATHS["answer"], announce(one, pool)))
        await until(lambda: engine.waiting == before + 1)
        pool = [two.address, target.ctx.address]
        status, body, headers = await post(target.url, PATHS["answer"], announce(two, pool))
        assert (status, body["error"]["code"]) == (429, "rate_limit_exceeded"), body
        assert "Retry-After" in headers
        gate.set()
        assert (await first)[0] == 200
        # the place is given back: the second member is served now
        assert (await post(target.url, PATHS["answer"], announce(two, pool)))[0] == 200
