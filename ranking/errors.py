"""The project's exception root and the ranking package's errors.

`SwarmError` lives here because `ranking` is the one package every other package
may import (it imports nothing of ours): `verification`, `reputation`,
`contracts` and `node` all derive their error trees from it.
"""

__all__ = ["DesignError", "InvalidComparisons", "NotConverged", "RankingError", "SwarmError"]


class SwarmError(Exception):
    """Root of every error this project raises on purpose."""


class RankingError(SwarmError):
    """Root of the ranking package's errors."""


class InvalidComparisons(RankingError, ValueError):
    """Comparison data of the wrong shape, range or index."""


class NotConverged(RankingError, ArithmeticError):
    """An iterative fit stopped before meeting its tolerance."""


class DesignError(RankingError, ValueError):
    """A pair design that cannot satisfy its guarantees with the nodes at hand."""
