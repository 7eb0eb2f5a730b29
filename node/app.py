"""Putting one node together and running it: the library entry point.

`start_node` is used by `swarm node run`, `swarm up` and the tests. It opens the
consensus log (its writer thread), rebuilds what the node keeps in memory from
it (the copy index, the judges' records and topic clusters, noting the point in
the log with a signed `epoch` message: `reputation.epoch`), measures the engine's speed unless
given it, wires the peers (the node's own participant as a local peer), binds
the port (0 picks a free one), joins the chain (`node.chain.link`: registers and
stakes, or refuses with a clear message) and returns a `RunningNode` whose `stop()` closes
everything it opened. The backend is not owned.
"""

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from contracts.embedded import EmbeddedChain
from node.api.app import build_app
from node.api.connections import GuardedRunner
from node.api.service import SwarmService
from node.chain.link import open_chain
from node.claims import load_copy_index
from node.config import NodeConfig
from node.context import NodeContext
from node.inference.base import Backend
from node.inference.device import cpu_summary
from node.inference.speed import Speed, measure_speed
from node.journal import Journal
from node.peers.directory import Directory
from node.peers.local import LocalPeer
from node.peers.transport import PeerClient
from reputation.envelope import sign_envelope
from reputation.epoch import default_epoch, rebuild
from reputation.log import ConsensusLog
from reputation.records import JudgeBook
from reputation.topics import TopicModel
from verification.index import CopyIndex

__all__ = ["RunningNode", "start_node"]

log = logging.getLogger(__name__)


@dataclass
class RunningNode:
    service: SwarmService
    runner: web.AppRunner
    port: int

    @property
    def ctx(self) -> NodeContext:
        return self.service.ctx

    @property
    def url(self) -> str:
        return (
            self.ctx.config.server.public_url or f"http://{self.ctx.config.server.host}:{self.port}"
        )

    async def stop(self) -> None:
        if self.ctx.chain is not None:
            await self.ctx.chain.stop()
        await self.runner.cleanup()
        await self.ctx.peers.client.close()
        await self.ctx.journal.close()


def _memory(
    log: ConsensusLog, copies: int, owner: str
) -> tuple[CopyIndex, TopicModel | None, JudgeBook]:
    """What a node keeps in memory, rebuilt from its log (runs in the log's thread)."""
    return load_copy_index(log, copies), *rebuild(log, owner, default_epoch())


async def start_node(
    config: NodeConfig,
    account: Any,
    backend: Backend,
    speed: Speed | None = None,
    embedded: EmbeddedChain | None = None,
) -> RunningNode:
    """Open the log, bind the server, join the chain and start serving."""
    journal = await Journal.open(config.log_path)
    client: PeerClient | None = None
    runner: web.AppRunner | None = None
    try:
        size = config.verification.copy_index_size
        copies, topics, judges = await journal.read(
            lambda consensus: _memory(consensus, size, account.address)
        )
        # the point of the log the memory was rebuilt at (`reputation.epoch`)
        await journal.append(sign_envelope(account, "epoch", None, default_epoch().model_dump()))
        speed = speed or await measure_speed(backend)
        client = await PeerClient.create(config.round.peer_concurrency)
        peers = Directory(account.address, client)
        peers.peer_clock.max_age = config.round.message_max_age
        peers.set_remotes([(p.address, p.url) for p in config.peers])
        ctx = NodeContext(config, account, backend, journal, peers, speed, copies, judges, topics)
        service = SwarmService(ctx)
        peers.local = LocalPeer(ctx.address, service.serve)
        runner = GuardedRunner(build_app(service), config.server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, config.server.host, config.server.port).start()
        node = RunningNode(service, runner, int(runner.addresses[0][1]))
        ctx.chain = await open_chain(
            config,
            account,
            journal,
            peers,
            node.url,
            backend,
            embedded,
            cosign_timeout=config.round.timeout_floor * 2,
        )
        # one probe of every peer now, so that readiness (`/health`) need not wait for
        # the health loop's first round, one interval after start
        await peers.refresh()
    except BaseException:
        if runner is not None:
            await runner.cleanup()
        if client is not None:
            await client.close()
        await journal.close()
        raise
    log.info(
        "node %s: %s in %s on %s; %.1f ms per token, %.3f ms per prompt character",
        account.address,
        backend.model_id,
        backend.dtype,
        cpu_summary(),
        1000 * speed.seconds_per_token,
        1000 * speed.seconds_per_char,
    )
    risk = config.sampling.verification_risk()
    if risk:
        log.warning("node %s: %s", account.address, risk)
    return node
