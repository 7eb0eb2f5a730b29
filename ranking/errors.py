"""The ranking package's errors (the root, `SwarmError`, is in `swarm_errors`)."""

from swarm_errors import SwarmError

__all__ = ["DesignError", "InvalidComparisons", "NotConverged", "RankingError", "SwarmError"]


class RankingError(SwarmError):
    """Root of the ranking package's errors."""


class InvalidComparisons(RankingError, ValueError):
    """Comparison data of the wrong shape, range or index."""


class NotConverged(RankingError, ArithmeticError):
    """An iterative fit stopped before meeting its tolerance."""


class DesignError(RankingError, ValueError):
    """A pair design that cannot satisfy its guarantees with the nodes at hand."""
