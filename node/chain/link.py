"""Putting a node on its chain at start, and the background work while it runs.

`open_chain` connects to the configured chain: `chain.rpc_url` and
`chain.contract`, or, with no URL, an embedded py-evm chain (the one `swarm up`
shares among its nodes, or one of this node's own, which funds the node's key
from its prefunded accounts). It starts the outbox drain, joins the registry
(`node.chain.membership.join`: register, update, top up, or a clear refusal),
gets admitted to rounds if it is not (`node.chain.capability.ensure_capable`:
calibration by three capable peers; a node they do not pass refuses to start),
reads the registry into the directory, and starts three loops: the outbox, the
batcher (`node.chain.batches`) and the registry refresh, which also has the node
tested again once it has lost its admission (idle past the inactivity limit).
`ChainLink.stop` ends them; what is queued stays in the outbox for the next start.

When the RPC cannot be reached at start, a node that registered before starts
anyway (its chain id is remembered in `<log>.chain.json`); one that never
registered refuses to start.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts.client import Chain, ChainError, ChainUnavailable
from contracts.embedded import EmbeddedChain
from node.chain.batches import Batcher
from node.chain.capability import Retest, ensure_capable
from node.chain.membership import join, refresh
from node.chain.outbox import Outbox
from node.config import NodeConfig
from node.errors import ConfigError
from node.inference.base import Backend
from node.journal import Journal
from node.peers.directory import Directory
from reputation.chainlog import outbox_row
from reputation.history import ReputationHistory

__all__ = ["ChainLink", "open_chain"]

log = logging.getLogger(__name__)

EMBEDDED_FUNDS = 100 * 10**18
"""Ether the embedded chain gives a node's key that holds less than its stake."""


@dataclass
class ChainLink:
    chain: Chain
    outbox: Outbox
    batcher: Batcher
    history: ReputationHistory = field(default_factory=ReputationHistory)
    """The chain's reputation changes read so far (for the draw weights)."""
    tasks: list["asyncio.Task[None]"] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks = []
        await self.chain.close()


async def _connect(config: NodeConfig, journal: Journal) -> Chain:
    settings = config.chain
    memo = Path(str(journal.path) + ".chain.json")
    w3 = AsyncWeb3(AsyncHTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    try:
        chain = await Chain.connect(w3, settings.contract)
    except ChainUnavailable:
        registered = await journal.read(lambda db: outbox_row(db, "register"))
        if registered is None or registered.status != "done" or not memo.exists():
            raise
        known = json.loads(memo.read_text())
        if known.get("contract", "").lower() != settings.contract.lower():
            raise
        log.warning(
            "chain %s unreachable at start; going on as a registered node", settings.rpc_url
        )
        return Chain(w3, settings.contract, int(known["chain_id"]))
    memo.write_text(json.dumps({"contract": chain.address, "chain_id": chain.chain_id}))
    return chain


async def open_chain(
    config: NodeConfig,
    account: Any,
    journal: Journal,
    peers: Directory,
    url: str,
    backend: Backend,
    embedded: EmbeddedChain | None = None,
    cosign_timeout: float = 60.0,
) -> ChainLink | None:
    settings = config.chain
    if not settings.enabled:
        return None
    try:
        if settings.rpc_url:
            chain = await _connect(config, journal)
        else:
            if embedded is None:
                embedded = await EmbeddedChain.start()
            chain = await embedded.connect()
            if await chain.balance(account.address) < settings.stake_wei * 2:
                await embedded.fund(account.address, EMBEDDED_FUNDS)
    except ChainError as exc:
        raise ConfigError(f"cannot use the chain: {exc}") from exc
    outbox = Outbox(chain, account, journal, settings.confirmations, settings.retry_seconds)
    batcher = Batcher(chain, outbox, account, journal, peers, settings, cosign_timeout)
    outbox.on_done = batcher.on_done
    link = ChainLink(chain, outbox, batcher)
    link.tasks.append(asyncio.create_task(outbox.run(), name="outbox"))
    try:
        timeout = settings.start_timeout
        await join(chain, outbox, account, url, backend.model_id, settings.stake_wei, timeout)
        with contextlib.suppress(ChainUnavailable):
            await ensure_capable(chain, outbox, account, backend, timeout)
            await refresh(chain, peers, link.history)
    except BaseException:
        await link.stop()
        raise
    link.tasks.append(asyncio.create_task(batcher.run(), name="batches"))
    retest = Retest(partial(ensure_capable, chain, outbox, account, backend, timeout))
    link.tasks.append(
        asyncio.create_task(_watch(chain, peers, link.history, settings.refresh_seconds, retest))
    )
    return link


async def _watch(
    chain: Chain,
    peers: Directory,
    history: ReputationHistory,
    interval: float,
    retest: Callable[[], Awaitable[object]],
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await refresh(chain, peers, history)
            await retest()
        except (ChainError, ConfigError) as exc:
            log.warning("registry not read or admission not renewed: %s", exc)
        except Exception:  # the loop must outlive any one failure
            log.exception("registry refresh failed")
