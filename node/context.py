"""What one node identity holds while it runs. No I/O here."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.config import NodeConfig
from node.guard import MessageGuard
from node.inference.base import Backend
from node.inference.speed import Speed
from node.journal import Journal
from node.metrics import NodeMetrics
from node.peers.directory import Directory
from reputation.records import JudgeBook
from reputation.topics import TopicModel
from verification.index import CopyIndex

__all__ = ["NodeContext"]


@dataclass
class NodeContext:
    config: NodeConfig
    account: Any
    backend: Backend
    journal: Journal
    """The consensus log, written off the event loop."""
    peers: Directory
    """This node (a local peer) and its remote peers."""
    speed: Speed
    """The engine's measured speed; scaled timeouts follow it (`node.round.timeouts`)."""
    copies: CopyIndex = field(default_factory=CopyIndex)
    """LSH index of recent answers (`node.claims.load_copy_index` fills it from the log)."""
    judges: JudgeBook = field(default_factory=JudgeBook)
    """Judges' agreement with past rounds' consensus (rebuilt from the log at start)."""
    topics: TopicModel | None = None
    """Clusters of past prompts, for a query with no category (`reputation.epoch`)."""
    metrics: NodeMetrics = field(default_factory=NodeMetrics)
    chain: Any = None
    """The node's `node.chain.link.ChainLink` once it is on its chain (None: chain off)."""
    clock: Callable[[], float] | None = None
    calibrations: dict[str, Any] = field(default_factory=dict)
    """Open calibration sessions this node attests, by session id (`node.serve.calibrate`)."""
    guard: MessageGuard = field(init=False)

    def __post_init__(self) -> None:
        if self.clock:  # the guard and the skew measurement read one clock
            self.peers.peer_clock.clock = self.clock
        self.guard = MessageGuard(
            self.peers.registered,
            self.config.round.message_max_age,
            clock=self.clock or time.time,
            on_equivocation=self._keep_evidence,
        )

    @property
    def address(self) -> str:
        return str(self.account.address)

    def _keep_evidence(self, first: str, second: dict[str, Any]) -> None:
        self.metrics.equivocations.labels(str(second["type"])).inc()
        self.journal.record_evidence(first, second)
