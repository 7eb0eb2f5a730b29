"""A node's ranking of one round: CrowdBT over the round's verdicts.

Each judge's reliability η has a Beta prior from its record (`JudgeRecord`:
how often its past verdicts agreed with the consensus that followed). The fit
returns, per candidate, a score with its Laplace standard error and a 95%
interval (score ± 1.96·stderr), and per judge its reliability estimated in this
round and how far its verdicts agreed with this round's consensus (the record
the next rounds' priors are built from).

A record's weight in the prior is capped at `RECORD_CAP` pseudo-verdicts, so a
long good record cannot shield a judge that turns: data in one round can still
move its η.

Each verdict weighs in the fit by its confidence (`weight`: the probability mass
the judge's verdict tokens held), so an unreadable verdict (a tie with mass 0)
moves nothing. The judge's record of this round counts each verdict once, as
the share of it that agreed with the consensus: a verdict that sits on the fence
counts half each way, so a judge that cannot decide earns no reliability.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ranking.crowd import Verdicts, crowd_bt_fit, reliability_prior

__all__ = ["RECORD_CAP", "SHRINK", "JudgeRecord", "RoundRanking", "rank_round", "shrunk"]

RECORD_CAP = 40.0
Z95 = 1.959964


@dataclass(frozen=True)
class JudgeRecord:
    """Verdict weight that agreed / disagreed with the consensus of past rounds."""

    agreed: float = 0.0
    disagreed: float = 0.0

    def capped(self) -> "JudgeRecord":
        total = self.agreed + self.disagreed
        if total <= RECORD_CAP:
            return self
        scale = RECORD_CAP / total
        return JudgeRecord(self.agreed * scale, self.disagreed * scale)


SHRINK = 10.0
"""Verdicts' worth of history a topic needs to weigh as much as a judge's overall record."""


def shrunk(topic: JudgeRecord, overall: JudgeRecord, k: float = SHRINK) -> JudgeRecord:
    """A judge's record in one topic plus `k` pseudo-verdicts at its overall (smoothed)
    rate: the topic's own rate weighs n / (n + k) with n verdicts there, so a topic
    with little history reads as the judge overall. (Plain arithmetic: the fields may
    be numpy arrays, as in `ranking.eval_judges`.)"""
    rate = (overall.agreed + 1.0) / (overall.agreed + overall.disagreed + 2.0)
    return JudgeRecord(topic.agreed + k * rate, topic.disagreed + k * (1.0 - rate))


@dataclass(frozen=True)
class RoundRanking:
    scores: list[float]
    stderr: list[float]
    interval: list[tuple[float, float]]
    reliability: dict[str, float]
    agreement: dict[str, JudgeRecord]


def rank_round(
    n_candidates: int,
    first: Sequence[int],
    second: Sequence[int],
    p_first: Sequence[float],
    judges: Sequence[str],
    records: dict[str, JudgeRecord],
    prior: float,
    weight: Sequence[float] | None = None,
) -> RoundRanking:
    """Scores and judges' reliability for one round's verdicts (first ≻ second w.p.
    p_first, each weighing `weight`: its confidence; 1 each when not given)."""
    names = sorted(set(judges))
    index = {name: k for k, name in enumerate(names)}
    past = [records.get(name, JudgeRecord()).capped() for name in names]
    a, b = reliability_prior([r.agreed for r in past], [r.disagreed for r in past])
    v = Verdicts.of(
        np.zeros(len(first), np.intp),
        first,
        second,
        p_first,
        [index[j] for j in judges],
        weight,
    )
    fit = crowd_bt_fit(v, 1, n_candidates, a, b, prior=prior)
    s, se = fit.scores[0], fit.stderr[0]
    d = s[v.first] - s[v.second]
    support = np.where(d > 0, v.outcome, np.where(d < 0, 1 - v.outcome, 0.5))
    agreed = np.bincount(v.judge, support, len(names))
    seen = np.bincount(v.judge, minlength=len(names))
    return RoundRanking(
        scores=s.tolist(),
        stderr=se.tolist(),
        interval=[(float(x - Z95 * e), float(x + Z95 * e)) for x, e in zip(s, se, strict=True)],
        reliability={n: float(fit.reliability[k]) for k, n in enumerate(names)},
        agreement={
            n: JudgeRecord(float(agreed[k]), float(seen[k] - agreed[k]))
            for k, n in enumerate(names)
        },
    )
