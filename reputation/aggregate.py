"""A round's aggregate (phase 5), pure: CrowdBT over its verdicts picks the winner.

The coordinator ranks with it (`node.round.ranking`) and an auditor re-ranks with
it from the logged verdicts (`reputation.audit`), so both run the same fit on the
same inputs. Bradley–Terry scores (prior precision `BT_PRIOR`) and each judge's
reliability η are fitted jointly (`ranking.consensus.rank_round`). Each verdict
weighs by its confidence, the probability mass its verdict tokens held (DESIGN.md:
"weight = judge reputation × confidence"; reputation enters as η's prior, from the
judge's record of agreeing with past rounds' consensus, `reputation.records`). The
top score wins, ties to the earlier candidate. Scores carry Laplace standard
errors and 95% intervals. Without verdicts (one candidate, or no neutral judge),
the candidate with the most authors leads, earlier ones first.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ranking.consensus import JudgeRecord, rank_round
from reputation.result import DecidedBy

__all__ = ["BT_PRIOR", "Comparison", "Ranked", "rank"]

BT_PRIOR = 0.1
"""Prior precision of the round's BT fit: weaker than half of one even comparison."""


@dataclass(frozen=True)
class Comparison:
    """One verdict: candidate indices in the order the judge saw them."""

    judge: str
    first: int
    second: int
    p_first: float
    mass: float


@dataclass(frozen=True)
class Ranked:
    """Scores, and the candidates from best to worst."""

    scores: list[float]
    stderr: list[float]
    interval: list[tuple[float, float]]
    decided_by: DecidedBy
    order: list[int]
    reliability: dict[str, float]
    agreement: dict[str, tuple[float, float]]


def rank(
    authors: Sequence[int],
    comparisons: Sequence[Comparison],
    decided_by: DecidedBy,
    records: Mapping[str, JudgeRecord],
) -> Ranked:
    """Rank candidates (`authors`: how many nodes gave each) from their verdicts."""
    n = len(authors)
    if not comparisons:
        order = sorted(range(n), key=lambda i: (-authors[i], i))
        zero = [0.0] * n
        return Ranked(zero, zero, [(0.0, 0.0)] * n, decided_by, order, {}, {})
    ranking = rank_round(
        n,
        [c.first for c in comparisons],
        [c.second for c in comparisons],
        [c.p_first for c in comparisons],
        [c.judge for c in comparisons],
        dict(records),
        prior=BT_PRIOR,
        weight=[c.mass for c in comparisons],
    )
    order = sorted(range(n), key=lambda i: (-ranking.scores[i], i))
    return Ranked(
        ranking.scores,
        ranking.stderr,
        ranking.interval,
        "judges",
        order,
        ranking.reliability,
        {j: (a.agreed, a.disagreed) for j, a in ranking.agreement.items()},
    )
