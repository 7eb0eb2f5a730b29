"""The two data shapes `swarm eval` scores, as arrays (parsing files is the caller's job).

Categories are integer codes into `category_names` (one empty name when a file
has none). Indices into `judges` / `members` are positions in those lists.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.errors import RankingError

__all__ = ["AnswerTable", "InvalidTable", "JudgmentTable"]

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]


class InvalidTable(RankingError):
    """Evaluation data that does not fit its shape."""

    code = "invalid_table"


@dataclass(frozen=True)
class JudgmentTable:
    """Pairs of outputs (0 and 1), the better one (`gold`), and judges' verdicts.

    Verdict k: judge `judge[k]` saw pair `pair[k]` with output `first[k]` shown
    first and gave `outcome[k]` = P(first shown is better): 1, 0, or 0.5 for a tie.
    Missing verdicts are simply absent.
    """

    pair_ids: list[str]
    category: Ints
    category_names: list[str]
    gold: Ints
    judges: list[str]
    pair: Ints
    judge: Ints
    first: Ints
    outcome: Floats
    left_out: int = 0
    """Pairs of the file left out on reading (the node's calibration bank)."""

    def __post_init__(self) -> None:
        n = len(self.pair_ids)
        if self.category.shape != (n,) or self.gold.shape != (n,):
            raise InvalidTable("one category and one gold label per pair")
        if n and (self.gold.min() < 0 or self.gold.max() > 1):
            raise InvalidTable("gold must name output 0 or 1")
        k = self.outcome.shape
        if not (self.pair.shape == self.judge.shape == self.first.shape == k):
            raise InvalidTable("verdict columns must have the same length")
        if k[0] and (self.pair.max() >= n or self.judge.max() >= len(self.judges)):
            raise InvalidTable("a verdict names an unknown pair or judge")


@dataclass(frozen=True)
class AnswerTable:
    """Items with a gold answer and each member's answer, as codes (−1 = no answer).

    Codes are per item: `answers[i, m]` indexes item i's distinct answers, and
    `gold[i]` is −1 when no member gave the gold answer.
    """

    item_ids: list[str]
    category: Ints
    category_names: list[str]
    gold: Ints
    members: list[str]
    answers: Ints

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        if self.category.shape != (n,) or self.gold.shape != (n,):
            raise InvalidTable("one category and one gold answer per item")
        if self.answers.shape != (n, len(self.members)):
            raise InvalidTable("one answer per item and member")
        if len(self.members) < 2:
            raise InvalidTable("need answers from at least two members")

    @property
    def n_codes(self) -> int:
        """Largest number of distinct answers to one item."""
        return int(max(self.answers.max(initial=-1), self.gold.max(initial=-1)) + 1)
