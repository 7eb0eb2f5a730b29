"""A local swarm: N node identities in one process, one shared engine.

Each node gets its own key (in `<data_dir>/node-<i>/key.json`), its own log,
its own loopback port (`first_port + i`, or free ports for 0) and its own
sampling: temperatures spread evenly over [0.2, 0.9] and seed i, so a swarm
sharing one model still gives different candidates, each reproducible from the
settings in its signed answer. Every other setting comes from `base` (built by
`node.config.load_config`, so the environment's `SWARM_<SECTION>__<FIELD>`
overrides apply as they do to `swarm node run`). With the chain on and no
`chain.rpc_url`, the swarm starts its own chain with the contract deployed with a
genesis seat for each node (so none needs calibrating), and every node registers
and stakes on it and finds the others in its registry; with the chain off, the
nodes know each other as static peers. The engine's speed is measured once and
shared.

Which chain: `persist_chain=True` (what `swarm up` does) runs anvil with its state
in `<data_dir>/chain` (`contracts.anvil.open_local_chain`): a restart loads it and
re-uses the contract, so the nodes keep their registrations, stakes, reputation
and committed batches, and the chain can be started again after the swarm stops
to audit the logs against it (`swarm audit --local-chain <data_dir>`). The genesis
seats are those of the first deployment; a node added later is calibrated by the
founders. anvil is stopped (SIGTERM: it writes its state) by `LocalSwarm.stop`.
`persist_chain=False` (the tests' default) starts the embedded py-evm chain,
forgotten at stop; it is quicker and needs no anvil.

Ready means ready: `start_local_swarm` returns only once every node's `/health`
says ok (`node.api.service.SwarmService.waiting_for`: on its chain, and
`round.min_answers` answering nodes seen up), so a query sent the moment it
returns (or `swarm up` prints its `endpoint:` line) can run a round. A swarm of
fewer nodes than `round.min_answers` can never be ready and is refused at once.

The local keys use the password in `LOCAL_PASSWORD` and a cheap scrypt cost:
they guard a loopback test swarm, not stake. Production nodes use
`swarm keys new` and `swarm node run`.
"""

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from contracts.anvil import LocalChain, fund, open_local_chain
from contracts.client import Chain
from contracts.embedded import EmbeddedChain
from contracts.params import ChainParams
from node.app import RunningNode, start_node
from node.chain.membership import refresh
from node.config import NodeConfig
from node.errors import ConfigError
from node.identity import load_or_create
from node.inference.base import Backend
from node.inference.speed import measure_speed

__all__ = ["LOCAL_PASSWORD", "LocalSwarm", "start_local_swarm", "temperatures"]

log = logging.getLogger(__name__)

LOCAL_PASSWORD = "local-swarm"
_LOCAL_KDF_N = 2**14
LOCAL_FUNDS = 100 * 10**18
"""Ether a node's key gets on the local anvil chain when it holds less than twice its stake."""
READY_TIMEOUT = 120.0
"""How long `start_local_swarm` waits for every node to be ready."""


def temperatures(n: int) -> list[float]:
    if n == 1:
        return [0.5]
    return [round(0.2 + 0.7 * i / (n - 1), 3) for i in range(n)]


@dataclass
class LocalSwarm:
    nodes: list[RunningNode]
    embedded: EmbeddedChain | None = None
    """The in-process chain the nodes registered on (None with `chain.rpc_url` or off)."""
    local_chain: LocalChain | None = None
    """The persistent anvil chain the nodes registered on (`persist_chain`)."""

    @property
    def endpoint(self) -> str:
        return self.nodes[0].url + "/v1"

    async def stop(self) -> None:
        """Stop every node, then the persistent chain (which writes its state)."""
        try:
            for node in self.nodes:
                await node.stop()
        finally:
            if self.local_chain is not None:
                await self.local_chain.stop()


async def start_local_swarm(
    n: int,
    first_port: int,
    data_dir: Path,
    base: NodeConfig,
    backend: Backend | Sequence[Backend],
    persist_chain: bool = False,
    ready_timeout: float = READY_TIMEOUT,
) -> LocalSwarm:
    """Start `n` nodes sharing `backend` (or node i on `backend[i]`), on the embedded
    chain or (`persist_chain`) the persistent anvil chain of `data_dir`; return once
    every node is ready (`ConfigError` if they are not within `ready_timeout`)."""
    if n < 1:
        raise ValueError("a swarm needs at least one node")
    if n < base.round.min_answers:
        raise ConfigError(
            f"a round needs {base.round.min_answers} answers and the swarm would have "
            f"{n} node(s): start at least {base.round.min_answers} (or lower "
            "SWARM_ROUND__MIN_ANSWERS)"
        )
    backends = [backend] * n if not isinstance(backend, Sequence) else list(backend)
    if len(backends) != n:
        raise ValueError(f"{n} nodes need {n} backends, got {len(backends)}")
    speed = await measure_speed(backends[0])
    chain = base.chain
    founders = ChainParams(genesis_seats=n)  # every local node is a founder
    own_chain = chain.enabled and not chain.rpc_url
    embedded, local_chain = None, None
    if own_chain and persist_chain:
        local_chain = await open_local_chain(data_dir, founders)
        log.info("local chain: anvil at %s; %s", local_chain.anvil.rpc_url, local_chain.note)
        deployment = local_chain.deployment
        chain = dataclasses.replace(chain, rpc_url=deployment.rpc_url, contract=deployment.contract)
    elif own_chain:
        embedded = await EmbeddedChain.start(founders)
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
                chain=chain,
            )
            if local_chain is not None:
                await _fund(local_chain, account.address, 2 * chain.stake_wei)
            nodes.append(await start_node(config, account, backends[i], speed, embedded))
        for node in nodes:
            if node.ctx.chain is not None:  # every node has registered by now
                await refresh(node.ctx.chain.chain, node.ctx.peers, node.ctx.chain.history)
            else:
                node.ctx.peers.set_remotes([(m.ctx.address, m.url) for m in nodes if m is not node])
        await _until_ready(nodes, ready_timeout)
    except BaseException:
        for node in nodes:
            await node.stop()
        if local_chain is not None:
            await local_chain.stop()
        raise
    return LocalSwarm(nodes, embedded, local_chain)


async def _fund(local: LocalChain, address: str, least: int) -> None:
    """Give `address` `LOCAL_FUNDS` on the local chain if it holds less than `least`."""
    chain = await Chain.at(local.deployment.rpc_url, local.deployment.contract)
    try:
        short = await chain.balance(address) < least
    finally:
        await chain.close()
    if short:
        await fund(local.deployment.rpc_url, address, LOCAL_FUNDS)


async def _until_ready(nodes: list[RunningNode], timeout: float) -> None:
    """Probe the peers until every node says it is ready (`SwarmService.waiting_for`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await asyncio.gather(*(node.ctx.peers.refresh() for node in nodes))
        waiting = {n.ctx.address: w for n in nodes if (w := n.service.waiting_for())}
        if not waiting:
            return
        if loop.time() > deadline:
            raise ConfigError(
                f"the local swarm was not ready within {timeout:g} s: "
                + "; ".join(f"{a} waits for {w}" for a, w in waiting.items())
            )
        await asyncio.sleep(0.2)
