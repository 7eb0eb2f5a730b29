"""Building and running one node's aiohttp application.

`start_node` is the library entry point used by `swarm node run`, `swarm up`
and the tests: it opens the log, binds the port (0 picks a free one) and
returns a `RunningNode` whose `stop()` closes everything it opened. Background
work (the peer health loop) is a `cleanup_ctx` that cancels and awaits its task.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from node.claims import load_copy_index
from node.config import NodeConfig
from node.inference.base import Backend
from node.peers import PeerClient
from node.routes import SERVICE, error_middleware, routes
from node.service import SwarmService
from node.state import NodeContext, Peer
from reputation.log import ConsensusLog

__all__ = ["HEALTH_INTERVAL", "RunningNode", "build_app", "start_node"]

log = logging.getLogger(__name__)
HEALTH_INTERVAL = 5.0


async def _health_loop(app: web.Application) -> AsyncIterator[None]:
    service = app[SERVICE]

    async def loop() -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL)
            peers = list(service.ctx.peers)
            states = await asyncio.gather(*(service.client.is_healthy(p.url) for p in peers))
            for peer, ok in zip(peers, states, strict=True):
                if ok != peer.healthy:
                    log.info("peer %s is %s", peer.address, "back" if ok else "down")
                peer.healthy = ok

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(service: SwarmService) -> web.Application:
    app = web.Application(
        middlewares=[error_middleware],
        client_max_size=service.ctx.config.server.max_body_bytes,
    )
    app[SERVICE] = service
    app.add_routes(routes)
    app.cleanup_ctx.append(_health_loop)
    return app


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
        return f"http://{self.ctx.config.server.host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.service.client.close()
        self.ctx.log.close()


async def start_node(config: NodeConfig, account: Any, backend: Backend) -> RunningNode:
    """Open the log, bind the server and start serving. The backend is not owned."""
    log = ConsensusLog(config.log_path)
    ctx = NodeContext(
        config=config,
        account=account,
        backend=backend,
        log=log,
        peers=[Peer(p.address, p.url) for p in config.peers if p.address != account.address],
        copies=load_copy_index(log, config.verification.copy_index_size),
    )
    client = await PeerClient.create(config.round.peer_concurrency)
    service = SwarmService(ctx, client)
    runner = web.AppRunner(build_app(service), access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.server.host, config.server.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        await client.close()
        ctx.log.close()
        raise
    port = int(runner.addresses[0][1])
    return RunningNode(service, runner, port)
