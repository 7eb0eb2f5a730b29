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

The outbox rows are bound to their deployment (chain id and contract). At start
the node looks at what its log holds for other deployments: rows from before
deployments were recorded are adopted by the deployment of the memo (the chain
they were written for); if the log wrote only to other deployments (a wiped
chain, a new contract), the node says so in one line, registers anew (its old
registration counts for nothing here) and queues the commits of its earlier
batches on the new chain first, in order (the contract takes a committer's
batches in order; settlements of the old chain are not replayed: its reputation
went with it).
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
from reputation.chainlog import (
    At,
    adopt_unbound,
    at,
    other_deployments,
    outbox_backlog,
    outbox_row,
    requeue_commits,
)
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
    memo = _memo(journal)
    w3 = AsyncWeb3(AsyncHTTPProvider(settings.rpc_url, request_kwargs={"timeout": 10}))
    try:
        chain = await Chain.connect(w3, settings.contract)
    except ChainUnavailable:
        known = _remembered(memo)
        if known is None or known[1] != settings.contract.lower():
            raise
        registered = await journal.read(lambda db: outbox_row(db, known, "register"))
        if registered is None or registered.status != "done":
            raise
        log.warning(
            "chain %s unreachable at start; going on as a registered node", settings.rpc_url
        )
        return Chain(w3, settings.contract, known[0])
    previous = _remembered(memo)
    if previous is not None:  # rows written before deployments were recorded were for it
        await journal.read(lambda db: adopt_unbound(db, previous))
    memo.write_text(json.dumps({"contract": chain.address, "chain_id": chain.chain_id}))
    return chain


def _memo(journal: Journal) -> Path:
    return Path(str(journal.path) + ".chain.json")


def _remembered(memo: Path) -> At | None:
    """The deployment the memo names (None: no memo, or an unreadable one)."""
    try:
        known = json.loads(memo.read_text())
        return at(int(known["chain_id"]), str(known["contract"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _others(db: Any, where: At) -> list[At] | None:
    """In the log's thread: None if the log has written to `where` before, else the
    other deployments it wrote to (maybe none)."""
    return None if outbox_backlog(db, where) else other_deployments(db, where)


async def _on_deployment(chain: Chain, journal: Journal, address: str) -> bool:
    """Say so in one line when the log wrote only to other deployments; True when it
    never wrote to this one (a first start here)."""
    where = at(chain.chain_id, chain.address)
    others = await journal.read(lambda db: _others(db, where))
    if others:
        log.warning(
            "node %s: chain %d contract %s is a deployment this log never wrote to (it wrote "
            "to %s); registering anew",
            address,
            chain.chain_id,
            chain.address,
            ", ".join(f"chain {c} contract {a}" for c, a in others),
        )
    return others is not None


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
        first_here = await _on_deployment(chain, journal, account.address)
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
        if first_here:  # earlier batches (another deployment's, or unbound) committed here too
            where = outbox.at
            requeued = await journal.read(lambda db: requeue_commits(db, where))
            if requeued:
                log.info("committing %d earlier batches on chain %d", requeued, chain.chain_id)
                outbox.wake()
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
