"""Phase 5, aggregate: CrowdBT over the round's verdicts picks the winner
(`reputation.aggregate`, which an auditor re-runs from the log). Pure: no I/O."""

from collections.abc import Mapping

from node.round.values import Candidate, Judgments, Ranked
from ranking.consensus import JudgeRecord
from reputation.aggregate import rank as aggregate

__all__ = ["rank"]


def rank(
    candidates: list[Candidate], judgments: Judgments, records: Mapping[str, JudgeRecord]
) -> Ranked:
    authors = [len(c.authors) for c in candidates]
    return aggregate(authors, judgments.comparisons, judgments.decided_by, records)
