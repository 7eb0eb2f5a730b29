"""The chain's reputation history, read incrementally: every `ReputationChanged`
event with its block's time, so that reputation can be decayed by age
(`reputation.rules.decayed`) the same way by every reader: the node's draws
(`node.chain.membership.refresh`) and `swarm reputation`."""

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

    async def update(self, chain: Chain) -> None:
        """Read the changes mined since the last update (`ChainError` if it cannot)."""
        latest = await chain.block_number()
        if latest < self.next_block:
            return
        initial = await chain.initial_reputation()
        events = await chain.events("ReputationChanged", self.next_block, latest)
        times = {}
        for block in sorted({int(e["blockNumber"]) for e in events}):
            times[block] = await chain.block_time(block)
        self.changes += [
            Change(
                time=times[int(e["blockNumber"])],
                block=int(e["blockNumber"]),
                node=str(e["args"]["node"]),
                points=e["args"]["delta"] / SCALE,
                reputation=(e["args"]["reputation"] - initial) / SCALE,
                committer=str(e["args"]["committer"]),
                batch=int(e["args"]["batch"]),
            )
            for e in events
        ]
        self.next_block = latest + 1

    def decayed(self, node: str, now: float) -> float:
        """The node's reputation at `now`: its changes' points, each decayed by age."""
        lower = node.lower()
        return decayed([(c.time, c.points) for c in self.changes if c.node.lower() == lower], now)
