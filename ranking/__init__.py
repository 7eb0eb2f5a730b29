"""Pure ranking math and judging: Bradley–Terry fitting, pair designs, judge prompts.

Imports nothing from `node`; no I/O.
"""

from ranking.bt import BTFit, bt_fit_pairwise, bt_objective
from ranking.designs import (
    Assignment,
    JudgeAssignment,
    assign_judges,
    pair_design,
    weighted_draw,
)
from ranking.errors import DesignError, InvalidComparisons, NotConverged, RankingError, SwarmError
from ranking.judging import (
    VERDICT_PREFIX,
    Verdict,
    VerdictUnreadable,
    judge_messages,
    verdict_from_logprobs,
)

__all__ = [
    "VERDICT_PREFIX",
    "Assignment",
    "BTFit",
    "DesignError",
    "InvalidComparisons",
    "JudgeAssignment",
    "NotConverged",
    "RankingError",
    "SwarmError",
    "Verdict",
    "VerdictUnreadable",
    "assign_judges",
    "bt_fit_pairwise",
    "bt_objective",
    "judge_messages",
    "pair_design",
    "verdict_from_logprobs",
    "weighted_draw",
]
