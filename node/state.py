"""What one node identity holds while it runs. No I/O here."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.config import NodeConfig
from node.inference.base import Backend
from node.messages import MessageGuard
from node.metrics import NodeMetrics
from reputation.log import ConsensusLog
from verification.index import CopyIndex

__all__ = ["NodeContext", "Peer"]


@dataclass
class Peer:
    address: str
    url: str
    healthy: bool = True


@dataclass
class NodeContext:
    config: NodeConfig
    account: Any
    backend: Backend
    log: ConsensusLog
    peers: list[Peer] = field(default_factory=list)
    metrics: NodeMetrics = field(default_factory=NodeMetrics)
    guard: MessageGuard = field(init=False)
    clock: Callable[[], float] | None = None
    copies: CopyIndex = field(default_factory=CopyIndex)
    """LSH index of recent answers (`node.claims.load_copy_index` fills it from the log)."""

    def __post_init__(self) -> None:
        kwargs = {"clock": self.clock} if self.clock else {}
        self.guard = MessageGuard(self.registered, self.config.round.message_max_age, **kwargs)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def registered(self) -> set[str]:
        return {p.address for p in self.peers} | {self.address}

    def peer(self, address: str) -> Peer | None:
        return next((p for p in self.peers if p.address.lower() == address.lower()), None)
