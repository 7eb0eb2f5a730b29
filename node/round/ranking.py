"""Phase 5, aggregate: CrowdBT over the round's verdicts picks the winner.

Bradley–Terry scores (prior precision `BT_PRIOR`) and each judge's reliability η
are fitted jointly (`ranking.consensus.rank_round`). Each verdict weighs by its
confidence, the probability mass its verdict tokens held (DESIGN.md: "weight =
judge reputation × confidence"; reputation enters as η's prior, from the judge's
record of agreeing with past rounds' consensus, `reputation.records`). The top
score wins, ties to the earlier candidate. Scores carry Laplace standard errors
and 95% intervals. Without verdicts (one candidate, or no neutral judge), the
candidate with the most authors leads, earlier ones first. Pure: no I/O.
"""

from collections.abc import Mapping

from node.round.values import Candidate, Judgments, Ranked
from ranking.consensus import JudgeRecord, rank_round

__all__ = ["BT_PRIOR", "rank"]

BT_PRIOR = 0.1
"""Prior precision of the round's BT fit: weaker than half of one even comparison."""


def rank(
    candidates: list[Candidate], judgments: Judgments, records: Mapping[str, JudgeRecord]
) -> Ranked:
    n = len(candidates)
    comparisons = judgments.comparisons
    if not comparisons:
        order = sorted(range(n), key=lambda i: (-len(candidates[i].authors), i))
        zero = [0.0] * n
        return Ranked(zero, zero, [(0.0, 0.0)] * n, judgments.decided_by, order, {}, {})
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
