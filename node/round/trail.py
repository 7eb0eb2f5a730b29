"""What a round records about itself as it goes: who was left out and why, how long
each phase took, and progress for a streaming client."""

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from node.metrics import NodeMetrics
from node.peers.fanout import Gathered
from reputation.result import LeftOut

__all__ = ["Progress", "Trail", "no_progress"]

log = logging.getLogger(__name__)

Progress = Callable[[str], Awaitable[None]]


async def no_progress(_: str) -> None:
    """The default progress callback: say nothing."""
    return None


@dataclass
class Trail:
    round_id: str
    metrics: NodeMetrics
    progress: Progress = no_progress
    started: float = field(default_factory=time.time)
    left_out: list[LeftOut] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def leave_out(self, node: str, phase: str, reason: object) -> None:
        log.warning("round %s: %s left out of %s: %s", self.round_id[:10], node, phase, reason)
        self.left_out.append(LeftOut(node=node, phase=phase, reason=str(reason)[:300]))
        self.metrics.peer_failures.labels(phase).inc()

    def report(self, gathered: Gathered[Any], phase: str) -> None:
        """Leave out every node of a fan-out that did not give a usable reply."""
        for node, why in gathered.failures().items():
            self.leave_out(node, phase, why)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[f"{phase}_s"] = time.perf_counter() - t0
            self.metrics.phase_seconds.labels(phase).observe(self.timings[f"{phase}_s"])
