"""Joining the registry at start, and finding peers from it while running.

`join` makes sure this node is a member serving its model at its URL:

- not registered: registers with `chain.stake` ether (at least the contract's
  minimum), refusing to start if the account cannot pay for it;
- registered under another model or at another URL: updates them (a new model
  loses the member's admission to rounds until it is attested again:
  `node.chain.capability`);
- registered with its bonded stake below the minimum (after an unstake or a
  slash): tops it up to `chain.stake` if the account can, else refuses.

Every write goes through the outbox, and `join` waits for it to be mined. The
outbox is the current deployment's (chain id and contract): a registration made on
a wiped chain or for another contract does not count here, so the node registers
anew. Keys are unique per intent: an update or a top-up carries the sequence
number of the writes of its kind finished so far (`Outbox.seq`), so a model
change A→B→A sends three updates, while the same unfinished intent replayed
after a restart keeps its key and is one write. If the
RPC cannot be reached, a node that registered before (its outbox says so) starts
anyway with its bootstrap peers and catches up when the chain is back; a node
that never registered refuses to start.

`refresh` replaces the directory's remote peers with the registry's capable
members (registered, bonded stake at least the minimum, admitted by attestations
or a genesis seat and not idle past the inactivity limit), each with the model it
registered and its weight in draws (`reputation.rules.draw_weight` of its stake and
its reputation in points, each change decayed by age from its block's time:
`reputation.history`); the static bootstrap peers are used only until the registry
is read.
"""

import logging
import time
from typing import Any

from contracts.client import Chain, ChainUnavailable
from node.chain.outbox import Outbox
from node.errors import ConfigError
from node.peers.directory import Directory
from reputation.chainlog import outbox_pending
from reputation.history import ReputationHistory
from reputation.rules import draw_weight

__all__ = ["GAS_RESERVE", "join", "refresh", "write"]

log = logging.getLogger(__name__)

GAS_RESERVE = 10**16
"""Wei kept back for the gas of registering (0.01 ether)."""


async def join(
    chain: Chain,
    outbox: Outbox,
    account: Any,
    url: str,
    model: str,
    stake: int,
    timeout: float,
) -> None:
    address = account.address
    try:
        member = await chain.member(address)
        minimum = await chain.min_stake()
        balance = await chain.balance(address)
    except ChainUnavailable as exc:
        done = await outbox.row("register")
        if done is not None and done.status == "done":
            log.warning(
                "chain unreachable at start; %s registered before, going on: %s", address, exc
            )
            return
        raise ConfigError(f"cannot register {address}: the chain is unreachable ({exc})") from exc
    want = max(stake, minimum)
    if not member.registered:
        if balance < want + GAS_RESERVE:
            raise ConfigError(
                f"cannot register {address}: it holds {balance / 1e18:g} ether and registering "
                f"stakes {want / 1e18:g} (plus gas); fund it (on a dev chain: `swarm chain fund "
                f"{address}`)"
            )
        await write(outbox, "register", "register", [url, model], want, timeout)
        log.info("registered %s (%s at %s) with %g ether", address, model, url, want / 1e18)
        return
    where = outbox.at
    unfinished = await outbox.journal.read(lambda db: outbox_pending(db, where))
    stale = [r for r in unfinished if r.key.startswith("update:") and r.args != [url, model]]
    if (member.endpoint, member.model) != (url, model) or stale:
        # an update queued for other settings (the node then restarted serving these)
        # would still be sent: this one goes after it, so the chain ends on the current
        seq = await outbox.seq("update:")
        await write(outbox, f"update:{seq}:{url}:{model}", "update", [url, model], 0, timeout)
        log.info("updated %s to serve %s at %s", address, model, url)
    if member.stake < minimum:
        top_up = want - member.stake
        if balance < top_up + GAS_RESERVE:
            raise ConfigError(
                f"{address} has {member.stake / 1e18:g} ether bonded, below the minimum "
                f"{minimum / 1e18:g}, and cannot pay the difference"
            )
        seq = await outbox.seq("stake:top-up:")
        key = f"stake:top-up:{seq}:{member.stake}:{member.unbonding}"
        await write(outbox, key, "stake", [], top_up, timeout)


async def write(
    outbox: Outbox, key: str, function: str, args: list[Any], value: int, timeout: float
) -> None:
    await outbox.put(key, function, args, value)
    try:
        row = await outbox.wait(key, timeout)
    except TimeoutError as exc:
        raise ConfigError(f"the chain did not mine '{function}' within {timeout:g} s") from exc
    if row.status == "failed":
        raise ConfigError(f"the contract refused '{function}': {row.error}")


async def refresh(chain: Chain, directory: Directory, history: ReputationHistory) -> None:
    """Read the registry's members into the directory (`ChainUnavailable` if it cannot),
    with their reputation decayed by age from `history` (brought up to date first)."""
    minimum, limit, now = await chain.min_stake(), await chain.inactivity_limit(), time.time()
    everyone = await chain.members()
    members = [m for m in everyone if m.capable(minimum, limit, now)]
    directory.update_remotes([(m.node, m.endpoint, m.model) for m in members])
    directory.set_registry(
        [m.node for m in everyone if m.active(minimum)], [m.node for m in members]
    )
    await history.update(chain)
    directory.set_weights(
        {m.node: draw_weight(m.stake, history.decayed(m.node, now)) for m in members}
    )
