"""A local swarm on its persistent chain (anvil with its state in the data dir):
stopped, started again, queried the moment it is ready, and audited against its
chain after it stops. And `/health`: ready only once a round can run.

Real: anvil from npm with a state file, the contract, keys, SQLite logs, HTTP on
loopback, `swarm audit` as a process. The engine is the scripted stand-in.
"""

import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from contracts.anvil import open_local_chain
from contracts.client import ChainError
from contracts.params import ChainParams
from node.app import start_node
from node.config import load_config
from node.config.sections import PeerConfig
from node.identity import load_or_create
from node.local import LOCAL_PASSWORD, LocalSwarm, start_local_swarm
from reputation.chainlog import batches
from tests.node.round.test_branches import nodes, text
from tests.procs import audit_clean, free_port
from tests.scripted import ScriptedBackend, ScriptedModel

CHAIN = {"chain": {"batch_rounds": 1, "batch_seconds": 3600}}


def free_ports(n: int) -> int:
    """The first of `n` consecutive free loopback ports (a restart keeps its URLs)."""
    for _ in range(50):
        first = free_port()
        try:
            for port in range(first, first + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError("no consecutive free ports")


async def ask(swarm: LocalSwarm, prompt: str) -> tuple[int, dict[str, Any]]:
    body = {"model": "swarm", "messages": [{"role": "user", "content": prompt}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(swarm.endpoint + "/chat/completions", json=body) as resp,
    ):
        return resp.status, await resp.json()


async def settle(swarm: LocalSwarm) -> None:
    """Every node's batches committed and settled on chain (anvil mines at once; a
    receipt is read on the next pass). The chain's clock is moved on 2 s first: these
    rounds take a fraction of a second, and a settlement mined within the second of
    its round's announcement (block times are whole seconds) would look, to the
    audit's weight check, as if it came before the round."""
    chain = swarm.nodes[0].ctx.chain.chain
    await chain.w3.provider.make_request("evm_increaseTime", [2])
    for node in swarm.nodes:
        link = node.ctx.chain
        await link.batcher.tick(force=True)
        for _ in range(3):
            while not await link.outbox.drain():
                pass
            await link.batcher.tick()


def backends(model: ScriptedModel) -> list[ScriptedBackend]:
    return nodes(model, [text(t, best=t == "a") for t in "abc"])


async def test_the_local_chain_is_reused_after_a_restart_and_redeployed_when_wiped(
    tmp_path: Path,
) -> None:
    first = await open_local_chain(tmp_path, ChainParams(genesis_seats=3))
    await first.stop()
    assert "on a new chain" in first.note
    again = await open_local_chain(tmp_path, ChainParams(genesis_seats=3))
    await again.stop()
    assert again.deployment.contract == first.deployment.contract
    assert again.note.startswith("re-using contract")
    (tmp_path / "chain" / "anvil-state.json").unlink()  # the state is wiped
    wiped = await open_local_chain(tmp_path, ChainParams(genesis_seats=3))
    await wiped.stop()
    assert wiped.deployment.contract != first.deployment.contract
    assert "was wiped" in wiped.note and "registers anew" in wiped.note


async def test_an_unreadable_chain_state_is_refused_clearly_not_replaced(tmp_path: Path) -> None:
    state = tmp_path / "chain" / "anvil-state.json"
    state.parent.mkdir()
    state.write_text("{not json")
    with pytest.raises(ChainError, match=r"could not load the chain state .* move the file"):
        await open_local_chain(tmp_path, ChainParams(genesis_seats=3))
    assert state.read_text() == "{not json"  # kept for its owner to look at


async def test_a_swarm_restarts_on_its_saved_chain_and_audits_clean_after_it_stops(
    tmp_path: Path,
) -> None:
    base = load_config(None, env={}, overrides=CHAIN)
    model, port = ScriptedModel(), free_ports(3)
    swarm = await start_local_swarm(3, port, tmp_path, base, backends(model), persist_chain=True)
    try:
        status, reply = await ask(swarm, "Name a river.")  # the moment it is ready
        assert status == 200, reply
        await settle(swarm)
        chain = swarm.nodes[0].ctx.chain.chain
        contract = chain.address
        standing = {m.node: (m.stake, m.reputation) for m in await chain.members()}
        assert len(standing) == 3 and len({r for _, r in standing.values()}) > 1  # it moved
        committed = {n.ctx.address: await chain.batches(n.ctx.address) for n in swarm.nodes}
        assert sum(committed.values()) >= 1
    finally:
        await swarm.stop()

    swarm = await start_local_swarm(3, port, tmp_path, base, backends(model), persist_chain=True)
    try:
        chain = swarm.nodes[0].ctx.chain.chain
        assert chain.address == contract
        assert len(await chain.events("Registered")) == 3  # nothing registered anew
        assert not await chain.events("Updated")
        assert {m.node: (m.stake, m.reputation) for m in await chain.members()} == standing
        for node in swarm.nodes:
            assert await chain.batches(node.ctx.address) == committed[node.ctx.address]
            kept = await node.ctx.journal.read(batches)
            assert len(kept) == committed[node.ctx.address]
        status, reply = await ask(swarm, "Name a mountain.")  # the moment it is ready
        assert status == 200, reply
        await settle(swarm)
    finally:
        await swarm.stop()

    for i in range(3):
        db = tmp_path / f"node-{i}" / "consensus.db"
        summary = audit_clean(db, "--local-chain", str(tmp_path))
        assert summary["chain"] == contract
        assert summary["rounds"] == (2 if i == 0 else 0)  # node 0 coordinated both rounds
        assert summary["batches"] == (2 if i == 0 else 0)


async def test_health_says_starting_and_why_until_a_round_can_run(tmp_path: Path) -> None:
    """One node whose only peer is down: a round needs two answers, so it is not ready."""
    model = ScriptedModel()
    dead = f"http://127.0.0.1:{free_port()}"
    off = {"chain": {"enabled": False}, "server": {"port": 0}}
    config = load_config(None, env={}, overrides=off)
    config.peers = [PeerConfig(address="0x" + "11" * 20, url=dead)]
    config.log_path = str(tmp_path / "consensus.db")
    account = load_or_create(tmp_path / "key.json", LOCAL_PASSWORD, 2**10)
    node = await start_node(config, account, ScriptedBackend(model, text("a")))
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(node.url + "/health") as resp:
                assert resp.status == 503
                body = await resp.json()
            assert body["status"] == "starting"
            assert body["waiting_for"].startswith("2 answering nodes serving scripted-lm; 1 known")
            async with session.post(
                node.url + "/v1/chat/completions",
                json={"model": "swarm", "messages": [{"role": "user", "content": "Hi?"}]},
            ) as resp:
                assert resp.status == 503  # what /health said: no round can run yet
    finally:
        await node.stop()
