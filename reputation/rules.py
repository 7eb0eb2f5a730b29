"""The reputation rules (pure): what a round earns each node, how it decays, how it
weighs in draws, and what a node puts at risk by entering a round.

**Points.** A round's result gives each node points, in "rounds' worth":

- *Answering*, from where the node's answer placed, not only whether it won:
  `placement` is the candidate's mean BT win probability against the round's
  other candidates, P = mean_j σ(s_i − s_j), so a close second earns nearly what
  the winner does and a clear last loses. Points are `ANSWER_WEIGHT · (2P − 1)`,
  in [−1, 1]; a candidate's authors (a group of identical answers) share its
  placement. In a round with one candidate there is no placement: no points.
- *Judging*, from the agreement of the judge's verdicts with the round's own
  consensus (never a gold label: a live swarm has none). `JudgeSummary.agreed` and
  `disagreed` are the verdict weights that agreed and disagreed with the fitted
  ranking; points are `JUDGE_WEIGHT · (agreed − disagreed) / (agreed + disagreed)`.
- *Penalties*: the author of a candidate that failed verification gets
  `PENALTY` (−20) instead of its placement, and an equivocation costs `PENALTY`:
  twenty clearly lost rounds, so that one caught lie wipes out more than a
  month's honest gains at a few rounds a day, and the stake slash on chain
  (`contracts.params.ChainParams.slash_bps`, 10% of bonded and unbonding
  stake) comes with it.

Points are state-free: they depend on the signed result alone, so every
co-signer of a settlement rebuilds the same numbers (`points_fixed` rounds them to
1e-6 before they become the contract's 18-decimal integers, so the last bit of a
float never decides a signature). The chain holds their running sum; the events
(`ReputationChanged`, with their blocks' times) hold the history.

**Decay.** A node's reputation is the prior (0 points) plus its points, each
weighed by 2^(−age / `HALF_LIFE`) (one week): recent rounds count most, and a node
that stops taking part drifts back to the prior, so old merit cannot be banked
and old faults are forgiven slowly (a penalty still weighs −10 after a week).

**Per topic.** A judge's record is kept per (node, topic) and shrunk toward the
node's overall record by `shrink`: with n rounds' worth of history in a topic, the
topic's own rate has weight n / (n + `SHRINK`), so a topic with little history
reads as the node's overall rate.

**Weight.** In draws a node weighs `stake × 2σ(reputation / REPUTATION_SCALE)`
(`draw_weight`): proportional to stake, so splitting one stake over many
identities buys no more weight than the stake itself, and scaled by reputation
between 0 and 2: a new node, at the prior, weighs its stake; one fresh penalty
(−20 points) cuts it to 2σ(−2) = 0.24 of its stake.

**At risk.** Entering a round puts at risk what `at_risk` states: the stake slash
and `PENALTY` points if the node is caught (failed verification, equivocation),
and at most one round's answering and judging points otherwise.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ranking.consensus import SHRINK
from reputation.result import SwarmResult

__all__ = [
    "ANSWER_WEIGHT",
    "HALF_LIFE",
    "JUDGE_WEIGHT",
    "PENALTY",
    "REPUTATION_SCALE",
    "SHRINK",
    "Risk",
    "agreement_points",
    "at_risk",
    "decayed",
    "draw_weight",
    "placement",
    "points_fixed",
    "round_points",
    "shrink",
]

ANSWER_WEIGHT = 1.0
JUDGE_WEIGHT = 0.5
PENALTY = -20.0
HALF_LIFE = 7 * 24 * 3600.0
"""Seconds for a point's weight to halve."""
REPUTATION_SCALE = 10.0
"""Points at which a node's draw weight is 2σ(1) = 1.46 times its stake."""
FIXED = 10**18
PRECISION = 10**6


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def placement(scores: Sequence[float]) -> list[float]:
    """Each candidate's mean BT win probability against the others, in (0, 1);
    0.5 for a lone candidate."""
    n = len(scores)
    if n < 2:
        return [0.5] * n
    return [
        sum(_sigmoid(si - sj) for j, sj in enumerate(scores) if j != i) / (n - 1)
        for i, si in enumerate(scores)
    ]


def agreement_points(agreed: float, disagreed: float) -> float:
    """A judge's points from its verdict weight agreeing and disagreeing with the
    round's consensus; 0 for a judge whose verdicts carried no weight."""
    total = agreed + disagreed
    return 0.0 if total <= 0 else JUDGE_WEIGHT * (agreed - disagreed) / total


def round_points(result: SwarmResult) -> dict[str, float]:
    """The points a settled round gives each node it names (addresses as signed)."""
    points: dict[str, float] = {}

    def add(node: str, value: float) -> None:
        points[node] = points.get(node, 0.0) + value

    failed = {o.candidate for o in result.verification if o.status == "failed"}
    ranked = len(result.candidates) > 1
    shares = placement([c.score for c in result.candidates])
    for candidate, share in zip(result.candidates, shares, strict=True):
        for author in candidate.nodes:
            if candidate.candidate in failed:
                add(author, PENALTY)
            elif ranked:
                add(author, ANSWER_WEIGHT * (2 * share - 1))
    for judge in result.judges:
        add(judge.node, agreement_points(judge.agreed, judge.disagreed))
    return points


def points_fixed(points: float) -> int:
    """Points as the contract's 18-decimal integer, rounded to 1e-6 first."""
    return round(points * PRECISION) * (FIXED // PRECISION)


def decayed(
    history: Iterable[tuple[float, float]], now: float, half_life: float = HALF_LIFE
) -> float:
    """The reputation from (time, points) pairs at time `now`: each weighed by
    2^(−age / half_life); points from the future (a clock ahead) count as now."""
    return sum(p * 2.0 ** (-max(0.0, now - t) / half_life) for t, p in history)


def shrink(topic: float, topic_weight: float, overall: float, k: float = SHRINK) -> float:
    """A topic's rate shrunk toward the node's overall rate: n / (n + k) of the
    topic's own, with n its rounds' worth of history there."""
    if topic_weight <= 0:
        return overall
    share = topic_weight / (topic_weight + k)
    return share * topic + (1 - share) * overall


def draw_weight(stake: int, reputation: float) -> float:
    """A node's weight in seeded draws: its stake (wei) times 2σ(reputation / scale)."""
    if stake <= 0:
        return 0.0
    return stake / FIXED * 2 * _sigmoid(reputation / REPUTATION_SCALE)


@dataclass(frozen=True)
class Risk:
    """What entering one round puts at risk."""

    stake_wei: int
    """Slashed if the node is caught in the round (failed verification, equivocation)."""
    points_if_caught: float
    points_at_most: float
    """Lost at worst in an honest round: a clear last place and judging against the
    consensus every time."""


def at_risk(stake: int, slash_bps: int) -> Risk:
    return Risk(stake * slash_bps // 10_000, PENALTY, -(ANSWER_WEIGHT + JUDGE_WEIGHT))
