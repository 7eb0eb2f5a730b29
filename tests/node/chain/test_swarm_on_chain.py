"""A local swarm on the embedded py-evm chain: registration, discovery, batched
commitments, quorum-signed settlements, inclusion proofs, and the lies a committer
could tell its co-signers.

Real: keys, the contract on web3's in-process chain, signatures, HTTP on
loopback, the consensus logs. The engine is the scripted stand-in.
"""

from typing import Any

import aiohttp
import pytest

from contracts.settlement import SCALE
from node.chain.membership import refresh
from node.serve import PATHS
from reputation.chainlog import batches
from reputation.envelope import sign_envelope
from reputation.history import ReputationHistory
from reputation.result import SwarmReply
from reputation.rules import JUDGE_WEIGHT, PENALTY, draw_weight, points_fixed, round_points
from tests.node.round.test_branches import nodes, text

CHAIN = {"chain": {"batch_rounds": 2, "batch_seconds": 3600}}


def earned(replies: list[SwarmReply]) -> dict[str, int]:
    """Each node's change on chain by the reputation rules, summed over the rounds."""
    points: dict[str, float] = {}
    for reply in replies:
        for node, value in round_points(reply).items():
            points[node] = points.get(node, 0.0) + value
    return {node: points_fixed(value) for node, value in points.items()}


async def settle_all(s: Any) -> None:
    """Run every node's batcher until its batches are committed and settled."""
    for node in s.nodes:
        link = node.ctx.chain
        await link.batcher.tick(force=True)
        await link.outbox.drain()
        await link.batcher.tick()
        await link.outbox.drain()


async def test_nodes_register_stake_and_find_each_other_in_the_registry(
    scripted_swarm, model
) -> None:
    async with scripted_swarm(nodes(model, [text(t) for t in "abc"]), **CHAIN) as s:
        chain = s.nodes[0].ctx.chain.chain
        members = await chain.members()
        assert {m.node for m in members} == {s.address(i) for i in range(3)}
        for m in members:
            assert m.stake == 10**18 and m.reputation == SCALE and m.model == "scripted-lm"
            assert m.endpoint == s.nodes[s.index(m.node)].url
        for i, node in enumerate(s.nodes):  # no static peers: all from the registry
            assert node.ctx.config.peers == []
            assert {p.address for p in node.ctx.peers.remotes} == {
                s.address(j) for j in range(3) if j != i
            }


async def test_rounds_are_committed_settled_and_provable_on_chain(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "b") for t in "abcd"])
    backends[3].honest = False  # its answers fail verification when they win
    backends[3].prefers = lambda first, second: 0.5
    async with scripted_swarm(backends, **CHAIN) as s:
        replies = []
        for prompt in ("Where do rivers run?", "Where do hills rise?"):
            status, body = await s.ask(prompt)
            assert status == 200, body
            replies.append(SwarmReply.model_validate(body["swarm"]))
        await settle_all(s)
        link = s.nodes[0].ctx.chain
        chain = link.chain
        # the batch's root is on chain, and each round's proof checks there
        for reply in replies:
            found = await s.get(f"/v1/rounds/{reply.round_id}")
            c = found["commitment"]
            assert c["batch"] == 0 and c["committed_block"] is not None
            assert await chain.root(s.address(0), 0) == bytes.fromhex(c["root"][2:])
            proof = [bytes.fromhex(p[2:]) for p in c["proof"]]
            digest = bytes.fromhex(c["result_digest"][2:])
            assert await chain.proves(s.address(0), 0, digest, proof)
            assert not await chain.proves(s.address(0), 0, b"\1" * 32, proof)
        # the rules' changes arrived once, signed by a quorum
        assert await chain.settled(s.address(0), 0)
        expected = earned(replies)
        for i in range(4):
            member = await chain.member(s.address(i))
            assert member.reputation == SCALE + expected.get(s.address(i), 0)
        row = await link.outbox.row("settle:0")
        assert row is not None and row.status == "done"
        events = await chain.events("ReputationChanged")
        assert len(events) == len([d for d in expected.values() if d])
        # the registry gives each node its weight in draws: stake and reputation
        peers = s.nodes[0].ctx.peers
        await refresh(chain, peers, ReputationHistory())
        minimum = await chain.min_stake()
        for i in range(4):
            points = expected.get(s.address(i), 0) / SCALE
            member = await chain.member(s.address(i))
            if member.active(minimum):
                assert peers.weight(s.address(i)) == pytest.approx(draw_weight(10**18, points))
            else:  # slashed below the minimum (the cheat, when its answer was checked)
                assert member.stake < minimum
                assert s.address(i).lower() not in peers.weights
        assert len({round(peers.weight(s.address(i)), 9) for i in range(4)}) > 1


async def test_a_failed_verification_costs_reputation_and_stake(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "b") for t in "abcde"])
    backends[1].honest = False  # the judges' favourite is a fabrication
    async with scripted_swarm(backends, verification={"verifiers": 3}, **CHAIN) as s:
        status, body = await s.ask("Where do rivers run?")
        assert status == 200, body
        await settle_all(s)
        chain = s.nodes[0].ctx.chain.chain
        cheat = await chain.member(s.address(1))
        reply = SwarmReply.model_validate(body["swarm"])
        assert cheat.reputation == SCALE + earned([reply])[s.address(1)]
        assert earned([reply])[s.address(1)] <= points_fixed(PENALTY + JUDGE_WEIGHT)
        assert cheat.stake == 10**18 * 9 // 10
        (slash,) = await chain.events("Slashed")
        assert slash["args"]["node"] == s.address(1) and slash["args"]["kind"] == 2
        # below the minimum stake now: the next batch settles without its signature
        assert not await chain.active(s.address(1))
        status, body = await s.ask("Where do hills rise?")
        assert status == 200, body
        await settle_all(s)
        assert await chain.settled(s.address(0), 1)
        (batch,) = [b for b in await s.nodes[0].ctx.journal.read(batches) if b.batch == 1]
        assert batch.settlement is not None and s.address(1) not in batch.settlement["signers"]


async def cosign_request(s: Any, change: Any = None, batch: int = 0) -> dict[str, Any]:
    link = s.nodes[0].ctx.chain
    (b,) = [x for x in await link.batcher.journal.read(batches) if x.batch == batch]
    _, request = await link.batcher.settlement(b)
    payload = change(dict(request["payload"])) if change else request["payload"]
    return sign_envelope(s.nodes[0].ctx.account, "settle_request", None, payload)


async def ask_to_cosign(s: Any, node: int, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(s.nodes[node].url + PATHS["cosign"], json=request) as resp,
    ):
        return resp.status, await resp.json()


async def test_co_signers_refuse_what_they_cannot_rebuild(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "b") for t in "abc"])
    async with scripted_swarm(backends, **CHAIN) as s:
        status, body = await s.ask("Where do rivers run?")
        assert status == 200, body
        await s.nodes[0].ctx.chain.batcher.make_batch(force=True)
        await s.nodes[0].ctx.chain.outbox.drain()
        status, reply = await ask_to_cosign(s, 1, await cosign_request(s))
        assert status == 200 and reply["type"] == "settle_signature", reply

        def other_winner(p: dict[str, Any]) -> dict[str, Any]:
            # the committer re-signs its result naming another winner: the root breaks
            (result,) = p["results"]
            forged = dict(result["payload"])
            forged["winner"] = {**forged["winner"], "node": s.address(2)}
            p["results"] = [
                sign_envelope(s.nodes[0].ctx.account, "result", result["round_id"], forged)
            ]
            return p

        lies = {
            "wrong_root": other_winner,
            "wrong_chain": lambda p: {**p, "chain_id": p["chain_id"] + 1},
            "root_not_committed": lambda p: {**p, "batch": 5},
        }
        for code, change in lies.items():
            status, reply = await ask_to_cosign(s, 1, await cosign_request(s, change))
            assert status == 400 and reply["error"]["code"] == code, (code, reply)

        # a result signed by someone else than the committer
        def foreign(p: dict[str, Any]) -> dict[str, Any]:
            (result,) = p["results"]
            p["results"] = [
                sign_envelope(
                    s.nodes[1].ctx.account, "result", result["round_id"], result["payload"]
                )
            ]
            return p

        status, reply = await ask_to_cosign(s, 2, await cosign_request(s, foreign))
        assert status == 400 and "signed by the committer" in reply["error"]["message"]
