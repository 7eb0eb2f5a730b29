"""A local swarm: N node identities in one process, one shared engine.

Each node gets its own key (in `<data_dir>/node-<i>/key.json`), its own log,
its own loopback port (`first_port + i`, or free ports for 0) and its own
sampling: temperatures spread evenly over [0.2, 0.9] and seed i, so a swarm
sharing one model still gives different candidates, each reproducible from the
settings in its signed answer. Every other setting comes from `base` (built by
`node.config.load_config`, so the environment's `SWARM_<SECTION>__<FIELD>`
overrides apply as they do to `swarm node run`). With the chain on and no
`chain.rpc_url`, the swarm starts one embedded py-evm chain with the contract
deployed with a genesis seat for each node (so none needs calibrating), and
every node registers and stakes on it and finds the others in its registry;
with the chain off, the nodes know each other as static peers. The engine's
speed is measured once and shared.

The local keys use the password in `LOCAL_PASSWORD` and a cheap scrypt cost:
they guard a loopback test swarm, not stake. Production nodes use
`swarm keys new` and `swarm node run`.
"""

import asyncio
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.embedded import EmbeddedChain
from contracts.params import ChainParams
from node.app import RunningNode, start_node
from node.chain.membership import refresh
from node.config import NodeConfig
from node.identity import load_or_create
from node.inference.base import Backend
from node.inference.speed import measure_speed

__all__ = ["LOCAL_PASSWORD", "LocalSwarm", "start_local_swarm", "temperatures"]

LOCAL_PASSWORD = "local-swarm"
_LOCAL_KDF_N = 2**14


def temperatures(n: int) -> list[float]:
    if n == 1:
        return [0.5]
    return [round(0.2 + 0.7 * i / (n - 1), 3) for i in range(n)]


@dataclass
class LocalSwarm:
    nodes: list[RunningNode]
    embedded: EmbeddedChain | None = None
    """The in-process chain the nodes registered on (None with `chain.rpc_url` or off)."""

    @property
    def endpoint(self) -> str:
        return self.nodes[0].url + "/v1"

    async def stop(self) -> None:
        for node in self.nodes:
            await node.stop()


async def start_local_swarm(
    n: int,
    first_port: int,
    data_dir: Path,
    base: NodeConfig,
    backend: Backend | Sequence[Backend],
) -> LocalSwarm:
    """Start `n` nodes sharing `backend` (or node i on `backend[i]`)."""
    if n < 1:
        raise ValueError("a swarm needs at least one node")
    backends = [backend] * n if not isinstance(backend, Sequence) else list(backend)
    if len(backends) != n:
        raise ValueError(f"{n} nodes need {n} backends, got {len(backends)}")
    speed = await measure_speed(backends[0])
    chain = base.chain
    founders = ChainParams(genesis_seats=n)  # every local node is a founder
    embedded = await EmbeddedChain.start(founders) if chain.enabled and not chain.rpc_url else None
    nodes: list[RunningNode] = []
    try:
        for i, temperature in enumerate(temperatures(n)):
            home = data_dir / f"node-{i}"
            account = load_or_create(home / "key.json", LOCAL_PASSWORD, _LOCAL_KDF_N)
            config = dataclasses.replace(
                base,
                server=dataclasses.replace(
                    base.server, host="127.0.0.1", port=first_port + i if first_port else 0
                ),
                sampling=dataclasses.replace(base.sampling, temperature=temperature, seed=i),
                peers=[],
                log_path=str(home / "consensus.db"),
            )
            nodes.append(await start_node(config, account, backends[i], speed, embedded))
    except BaseException:
        for node in nodes:
            await node.stop()
        raise
    for node in nodes:
        if node.ctx.chain is not None:  # every node has registered by now
            await refresh(node.ctx.chain.chain, node.ctx.peers, node.ctx.chain.history)
        else:
            node.ctx.peers.set_remotes([(m.ctx.address, m.url) for m in nodes if m is not node])
    await asyncio.gather(*(node.ctx.peers.refresh() for node in nodes))
    return LocalSwarm(nodes, embedded)
