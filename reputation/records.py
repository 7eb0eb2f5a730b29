"""Judges' records: how often each judge's verdicts agreed with past rounds' consensus,
overall and per topic.

A judge's prior reliability in a round comes from the coordinator's own history:
over the latest `window` rounds it settled, how much of each judge's verdict
weight agreed with the consensus ranking of its round (`JudgeSummary.agreed` /
`disagreed` in each result). Each round has a topic (the client's category or an
inferred one, `reputation.epoch`; "" for none), and a judge's record for a topic is
its verdicts there shrunk toward its overall rate (`ranking.consensus.shrunk`:
`SHRINK` pseudo-verdicts at the overall rate, `reputation.rules.shrink` in counts), since a
judge can be good at one kind of question and reliably wrong on another; for the
topic "" the overall record is used as it is. A judge's calibration (its agreement
with the known better answers of proof-of-capability challenges, per topic:
`calibrate`) joins its consensus records: known answers anchor the records of a
swarm whose consensus a colluding group could otherwise teach (benchmarks/sybil.py
measures it). The book lives in memory and is
updated as each round settles, so a round costs no log reads; at start it is
rebuilt from the log's stored rounds, oldest first, so a restarted node keeps its
judges' records. Rounds enter the window in the order they settle (at rebuild, in
the order they started).
"""

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from ranking.consensus import JudgeRecord, shrunk
from reputation.result import JudgeSummary

__all__ = ["RECORD_ROUNDS", "JudgeBook"]

RECORD_ROUNDS = 200


class JudgeBook:
    """A rolling sum of judges' agreement over the latest `window` rounds."""

    def __init__(self, window: int = RECORD_ROUNDS):
        if window < 1:
            raise ValueError("the window must hold at least one round")
        self.window = window
        self._rounds: deque[tuple[str, Sequence[JudgeSummary]]] = deque()
        self._totals: dict[tuple[str, str | None], list[float]] = {}
        """(node, topic) and (node, None) for overall: [agreed, disagreed, rounds]."""
        self._calibration: dict[str, dict[str, JudgeRecord]] = {}
        """Per node, its calibration records by topic key ("" overall)."""

    def calibrate(self, node: str, records: Mapping[str, JudgeRecord]) -> None:
        """A judge's calibration: its verdicts' agreement with the known better answer
        of calibration challenges, by topic key ("" for all of them). They join its
        consensus records (a known answer is worth as much as a consensus one)."""
        self._calibration[node] = dict(records)

    @classmethod
    def rebuilt(
        cls,
        rounds: Iterable[Sequence[JudgeSummary] | tuple[str, Sequence[JudgeSummary]]],
        window: int = RECORD_ROUNDS,
    ):
        """A book from past rounds' judge summaries (or (topic, summaries)), oldest first."""
        book = cls(window)
        for entry in rounds:
            if isinstance(entry, tuple):
                book.add(entry[1], entry[0])
            else:
                book.add(entry)
        return book

    def add(self, judges: Sequence[JudgeSummary], topic: str = "") -> None:
        """A settled round's judges; the oldest round leaves a full window."""
        self._rounds.append((topic, judges))
        self._apply(topic, judges, +1.0)
        if len(self._rounds) > self.window:
            self._apply(*self._rounds.popleft(), -1.0)

    def _apply(self, topic: str, judges: Sequence[JudgeSummary], sign: float) -> None:
        for j in judges:
            for key in ((j.node, None), (j.node, topic)) if topic else ((j.node, None),):
                total = self._totals.setdefault(key, [0.0, 0.0, 0.0])
                total[0] += sign * j.agreed
                total[1] += sign * j.disagreed
                total[2] += sign
                if total[2] <= 0:  # no round in the window mentions it any more
                    del self._totals[key]

    def topics(self) -> list[str]:
        """The topics the window holds rounds of."""
        return sorted({key for _, key in self._totals if key})

    def _record(self, node: str, topic: str | None) -> JudgeRecord:
        a, d, _ = self._totals.get((node, topic), (0.0, 0.0, 0.0))
        cal = self._calibration.get(node, {}).get(topic or "", JudgeRecord())
        return JudgeRecord(max(0.0, a) + cal.agreed, max(0.0, d) + cal.disagreed)

    def records(self, topic: str = "") -> dict[str, JudgeRecord]:
        """Each judge's agreed and disagreed verdict weight over the window, plus its
        calibration: overall for the topic "", else in `topic` shrunk toward the
        overall rate."""
        nodes = {node for node, key in self._totals if key is None} | set(self._calibration)
        out = {}
        for node in nodes:
            overall = self._record(node, None)
            out[node] = shrunk(self._record(node, topic), overall) if topic else overall
        return out

    def __len__(self) -> int:
        return len(self._rounds)
