"""The chain's reputation history, read incrementally: every `ReputationChanged`
event with its block's time, so that reputation can be decayed by age
(`reputation.rules.decayed`) the same way by every reader: the node's draws
(`node.chain.membership.refresh`) and `swarm reputation`."""

import asyncio
from dataclasses import dataclass, field

from contracts.client import Chain
from contracts.settlement import SCALE
from reputation.rules import decayed

__all__ = ["Change", "ReputationHistory"]


@dataclass(frozen=True)
class Change:
    time: float
    """The timestamp of the block the change was mined in."""
    block: int
    node: str
    points: float
    reputation: float
    """The node's reputation after the change, in points above the initial one."""
    committer: str
    batch: int


@dataclass
class ReputationHistory:
    changes: list[Change] = field(default_factory=list)
    next_block: int = 0
    _by_node: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Each node's (time, points), by lower-cased address: what `decayed` reads."""

    async def update(self, chain: Chain) -> None:
        """Read the changes mined since the last update (`ChainError` if it cannot)."""
        latest = await chain.block_number()
        if latest < self.next_block:
            return
        initial = await chain.initial_reputation()
        events = await chain.events("ReputationChanged", self.next_block, latest)
        blocks = sorted({int(e["blockNumber"]) for e in events})
        times = dict(zip(blocks, await asyncio.gather(*map(chain.block_time, blocks)), strict=True))
        for e in events:
            change = Change(
                time=times[int(e["blockNumber"])],
                block=int(e["blockNumber"]),
                node=str(e["args"]["node"]),
                points=e["args"]["delta"] / SCALE,
                reputation=(e["args"]["reputation"] - initial) / SCALE,
                committer=str(e["args"]["committer"]),
                batch=int(e["args"]["batch"]),
            )
            self.changes.append(change)
            self._by_node.setdefault(change.node.lower(), []).append((change.time, change.points))
        self.next_block = latest + 1

    def of(self, node: str) -> list[tuple[float, float]]:
        """The node's changes as (block time, points), in chain order."""
        return self._by_node.get(node.lower(), [])

    def decayed(self, node: str, now: float) -> float:
        """The node's reputation at `now`: its changes' points, each decayed by age."""
        return decayed(self.of(node), now)
