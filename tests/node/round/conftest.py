"""A scripted local swarm (real keys, HTTP on loopback, logs; the engine is the
`tests.scripted` stand-in) and a client that runs rounds on it."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.config import load_config
from node.local import LocalSwarm, start_local_swarm
from reputation.log import ConsensusLog
from tests.scripted import ScriptedBackend, ScriptedModel


class Swarm:
    def __init__(self, swarm: LocalSwarm, backends: list[ScriptedBackend], home: Path):
        self.swarm = swarm
        self.backends = backends
        self.home = home

    @property
    def nodes(self) -> list[Any]:
        return self.swarm.nodes

    def address(self, i: int) -> str:
        return str(self.nodes[i].ctx.address)

    def index(self, address: str) -> int:
        return next(i for i, n in enumerate(self.nodes) if n.ctx.address == address)

    async def ask(self, prompt: str, node: int = 0, **extra: Any) -> tuple[int, dict[str, Any]]:
        body = {"model": "swarm", "messages": [{"role": "user", "content": prompt}], **extra}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.nodes[node].url + "/v1/chat/completions", json=body) as resp,
        ):
            return resp.status, await resp.json()

    async def get(self, path: str, node: int = 0) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.nodes[node].url + path) as resp,
        ):
            out: dict[str, Any] = await resp.json()
            return out

    def log_types(self, node: int, round_id: str) -> list[str]:
        """Types of the messages node `node` logged for the round (after a clean stop
        or once the round's writes are committed: reads a second connection)."""
        log = ConsensusLog(self.home / f"node-{node}" / "consensus.db")
        try:
            return [e.type for e in log.entries(round_id)]
        finally:
            log.close()


Make = Callable[..., Any]


@pytest.fixture
def scripted_swarm(tmp_path: Path) -> Make:
    @asynccontextmanager
    async def make(
        backends: list[ScriptedBackend], **sections: dict[str, Any]
    ) -> AsyncIterator[Swarm]:
        base = load_config(None, env={}, overrides={"sampling": {"max_tokens": 1024}, **sections})
        swarm = await start_local_swarm(len(backends), 0, tmp_path, base, backends)
        try:
            yield Swarm(swarm, backends, tmp_path)
        finally:
            await swarm.stop()

    return make


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel()
