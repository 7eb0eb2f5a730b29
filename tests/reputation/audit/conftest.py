"""One scripted local swarm on the embedded chain runs a dozen rounds once for the
audit tests (real keys, HTTP on loopback, logs, py-evm; the engine is the
`tests.scripted` stand-in), settles them on chain, and leaves node 0's log for
the audit tests to read, copy and tamper with. Only the last test of
`test_audit.py` writes to its chain; the later modules do not read the chain."""

import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from node.config import load_config
from node.local import start_local_swarm
from tests.node.chain.test_swarm_on_chain import settle_all
from tests.node.round.test_branches import nodes, text
from tests.scripted import ScriptedModel

TOKEN = "audit-token-for-tests"
PROMPTS = [
    "Where do rivers run?",
    "Where do hills rise?",
    "What is 15 + 27 in base 9?",
    "Name a colour of the sea.",
    "Write a recipe for lentil soup.",
    "Why is the sky blue?",
]


@dataclass
class Logged:
    """A swarm that has run its rounds, still running (its chain readable)."""

    swarm: Any
    db: Path
    owner: str
    round_ids: list[str]

    def copy(self, to: Path) -> Path:
        """A copy of node 0's log (its WAL folded in), to tamper with."""
        out = to / "copy.db"
        with sqlite3.connect(self.db) as src, sqlite3.connect(out) as dst:
            src.backup(dst)
        return out

    @property
    def chain(self) -> Any:
        return self.swarm.nodes[0].ctx.chain.chain


@pytest.fixture(scope="package")
async def logged(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Logged]:
    home = tmp_path_factory.mktemp("audit-swarm")
    backends = nodes(ScriptedModel(), [text(t, best=t == "b") for t in "abcd"])
    backends[3].honest = False  # caught when its answer is checked: a failed verification
    sections = {
        "sampling": {"max_tokens": 1024},
        "chain": {"batch_rounds": 4, "batch_seconds": 3600},
        "verification": {"sample_rate": 0.5},
        "server": {"audit_token": TOKEN},
    }
    base = load_config(None, env={}, overrides=sections)
    swarm = await start_local_swarm(4, 0, home, base, backends)
    try:
        ids = []
        async with aiohttp.ClientSession() as session:
            for i, prompt in enumerate(PROMPTS * 2):
                body: dict[str, Any] = {
                    "model": "swarm",
                    "messages": [{"role": "user", "content": prompt}],
                }
                if i % 3 == 0:
                    body["metadata"] = {"category": "geo"}
                async with session.post(
                    swarm.nodes[0].url + "/v1/chat/completions", json=body
                ) as r:
                    reply = await r.json()
                    assert r.status == 200, reply
                    ids.append(reply["swarm"]["round_id"])
        for node in swarm.nodes:  # every round batched, committed and settled
            link = node.ctx.chain
            while await link.batcher.make_batch(force=True) is not None:
                await link.outbox.drain()
        await settle_all(SimpleNamespace(nodes=swarm.nodes))
        yield Logged(swarm, home / "node-0" / "consensus.db", str(swarm.nodes[0].ctx.address), ids)
    finally:
        await swarm.stop()
        shutil.rmtree(home, ignore_errors=True)
