"""A scripted local swarm for the client API's tests: real keys, HTTP on loopback,
logs, chain off; the engine is the `tests.scripted` STAND-IN (these tests are about
the HTTP surface: refusals happen before any engine work, and the few answers they
need are scripted)."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from node.config import load_config
from node.local import LocalSwarm, start_local_swarm
from tests.scripted import ScriptedBackend, ScriptedModel

Make = Callable[..., Any]

ANSWERS = [
    "Air scatters blue sunlight more than red light.",
    "Short wavelengths bounce off gas molecules often.",
    "Rayleigh scattering favours the blue end of light.",
    "Tiny molecules deflect violet and blue rays most.",
]


@pytest.fixture
def api_swarm(tmp_path: Path) -> Make:
    """`api_swarm(n, **sections)`: n scripted nodes (chain off) as a `LocalSwarm`."""

    @asynccontextmanager
    async def make(n: int = 1, **sections: dict[str, Any]) -> AsyncIterator[LocalSwarm]:
        overrides: dict[str, Any] = {
            "chain": {"enabled": False},
            "sampling": {"max_tokens": 256},
            **sections,
            "round": {"min_answers": min(n, 2), **sections.get("round", {})},
        }
        base = load_config(None, env={}, overrides=overrides)
        model = ScriptedModel()
        backends = [ScriptedBackend(model, ANSWERS[i % len(ANSWERS)]) for i in range(n)]
        swarm = await start_local_swarm(n, 0, tmp_path, base, backends)
        try:
            yield swarm
        finally:
            await swarm.stop()

    return make
