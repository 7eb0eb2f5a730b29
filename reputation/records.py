"""Judges' records: how often each judge's verdicts agreed with past rounds' consensus.

Until the reputation rules and the chain exist, a judge's prior reliability in
a round comes from the coordinator's own history: over the latest `window`
rounds it settled, how much of each judge's verdict weight agreed with the
consensus ranking of its round (`JudgeSummary.agreed` / `disagreed` in each
result). The book lives in memory and is updated as each round settles, so a
round costs no log reads; at start it is rebuilt from the log's stored rounds,
oldest first, so a restarted node keeps its judges' records. Rounds enter the
window in the order they settle (at rebuild, in the order they started).
"""

from collections import deque
from collections.abc import Iterable, Sequence

from ranking.consensus import JudgeRecord
from reputation.result import JudgeSummary

__all__ = ["RECORD_ROUNDS", "JudgeBook"]

RECORD_ROUNDS = 200


class JudgeBook:
    """A rolling sum of judges' agreement over the latest `window` rounds."""

    def __init__(self, window: int = RECORD_ROUNDS):
        if window < 1:
            raise ValueError("the window must hold at least one round")
        self.window = window
        self._rounds: deque[Sequence[JudgeSummary]] = deque()
        self._totals: dict[str, list[float]] = {}
        self._rounds_of: dict[str, int] = {}

    @classmethod
    def rebuilt(cls, rounds: Iterable[Sequence[JudgeSummary]], window: int = RECORD_ROUNDS):
        """A book from past rounds' judge summaries, oldest first."""
        book = cls(window)
        for judges in rounds:
            book.add(judges)
        return book

    def add(self, judges: Sequence[JudgeSummary]) -> None:
        """A settled round's judges; the oldest round leaves a full window."""
        self._rounds.append(judges)
        self._apply(judges, +1.0)
        if len(self._rounds) > self.window:
            self._apply(self._rounds.popleft(), -1.0)

    def _apply(self, judges: Sequence[JudgeSummary], sign: float) -> None:
        for j in judges:
            total = self._totals.setdefault(j.node, [0.0, 0.0])
            total[0] += sign * j.agreed
            total[1] += sign * j.disagreed
            self._rounds_of[j.node] = self._rounds_of.get(j.node, 0) + int(sign)
            if self._rounds_of[j.node] == 0:  # no round in the window mentions it any more
                del self._totals[j.node], self._rounds_of[j.node]

    def records(self) -> dict[str, JudgeRecord]:
        """Each judge's agreed and disagreed verdict weight over the window."""
        return {
            node: JudgeRecord(max(0.0, a), max(0.0, d)) for node, (a, d) in self._totals.items()
        }

    def __len__(self) -> int:
        return len(self._rounds)
