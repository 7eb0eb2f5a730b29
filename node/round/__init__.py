"""The coordinator's side of a round: one module per phase of DESIGN.md, composed by
`node.round.coordinator.Coordinator`."""

from node.round.coordinator import Coordinator
from node.round.trail import Progress, no_progress
from node.round.values import Settled

__all__ = ["Coordinator", "Progress", "Settled", "no_progress"]
