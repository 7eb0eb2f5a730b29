"""`swarm eval judges`: aggregate many judges' pairwise verdicts, score against gold.

Each pair is one round with two candidates. Every verdict (each judge, each
order it was shown) enters as a soft outcome. Methods:

- `majority`: every verdict is one vote (a tie half a vote each way).
- `bt_unweighted`: Bradley–Terry on all verdicts, unit weights.
- `ilsr`: choix's ILSR on the hard verdicts (comparison only).
- `crowd_bt`: CrowdBT with one reliability per judge learned from the data
  alone (no labels at all; an unsupervised one-coin Dawid–Skene analogue).
- `best_single_calibrated`: in each category, the judge with the best
  calibration record decides alone.
- `swarm`: what a node does: CrowdBT, with each judge's reliability prior from
  its reputation. Reputation is the judge's agreement with the known better
  output on the calibration split, kept per (judge, category), since a judge
  can be good at one kind of pair and reliably wrong on another.
- `swarm_one_category`: as `swarm`, with one reputation per judge over all
  categories.
- `swarm_inferred_topic` (with `topics`, one inferred topic per pair, e.g. from
  the pairs' instruction texts by `reputation.topics`): as `swarm`, with
  reputation per (judge, inferred topic) instead of the file's category: what a
  node does when queries carry no category.
- `best_single_hindsight`: the single judge with the best accuracy on the
  scored pairs, chosen with their gold labels (a reference, not a method).

A method that reaches no decision on a pair (no verdicts, or a tie) gets half
credit. See `ranking.calibration` for the calibration split.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking.baselines import credit, ilsr_scores
from ranking.bt import bt_fit_batch
from ranking.calibration import DEFAULT_ROTATIONS, calibration_note, rotations, smoothed_rate
from ranking.consensus import JudgeRecord, shrunk
from ranking.crowd import Verdicts, crowd_bt_fit, reliability_prior
from ranking.tables import InvalidTable, JudgmentTable

__all__ = ["BT_PRIOR", "EvalReport", "evaluate_judgments"]

Floats = NDArray[np.float64]
Progress = Callable[[str], None]

BT_PRIOR = 0.1  # as in a node's round (node.coordinator)


@dataclass
class EvalReport:
    """Accuracy per method on `items` scored items, and how it was obtained."""

    items: int
    methods: dict[str, float]
    calibration: dict[str, object]
    details: dict[str, object] = field(default_factory=dict)


def _verdicts(t: JudgmentTable, judge: NDArray[np.intp]) -> Verdicts:
    return Verdicts.of(t.pair, t.first, 1 - t.first, t.outcome, judge)


def _support_for_first_output(t: JudgmentTable) -> Floats:
    """How much each verdict supports output 0 (1 = fully, 0 = output 1)."""
    out: Floats = np.where(t.first == 0, t.outcome, 1.0 - t.outcome)
    return out


def _decide(t: JudgmentTable, keep: NDArray[np.bool_]) -> Floats:
    """Vote scores (pairs × 2) from the verdicts in `keep`."""
    vote = 2.0 * _support_for_first_output(t)[keep] - 1.0
    total = np.bincount(t.pair[keep], vote, len(t.pair_ids))
    return np.stack([total, -total], axis=1)


def _fixed_methods(t: JudgmentTable) -> dict[str, Floats]:
    """Per-pair credit of the methods that use no labels."""
    n = len(t.pair_ids)
    out = {"majority": credit(_decide(t, np.ones(t.pair.size, bool)), t.gold)}
    v = _verdicts(t, t.judge)
    bt = bt_fit_batch(v.win_matrices(n, 2), prior=BT_PRIOR)
    out["bt_unweighted"] = credit(bt.scores, t.gold)
    hard = (t.outcome == 0) | (t.outcome == 1)
    ilsr = np.zeros((n, 2))
    order = np.argsort(t.pair[hard], kind="stable")
    by_pair = np.split(
        np.flatnonzero(hard)[order], np.cumsum(np.bincount(t.pair[hard], minlength=n))[:-1]
    )
    for p, rows in enumerate(by_pair):
        won = t.outcome[rows] == 1
        winners = np.where(won, v.first[rows], v.second[rows])
        ilsr[p] = ilsr_scores(2, winners, 1 - winners)
    out["ilsr"] = credit(ilsr, t.gold)
    a, b = reliability_prior(np.zeros(len(t.judges)), np.zeros(len(t.judges)))
    fit = crowd_bt_fit(v, n, 2, a, b, prior=BT_PRIOR)
    out["crowd_bt"] = credit(fit.scores, t.gold)
    return out


def _judge_records(
    t: JudgmentTable, rows: NDArray[np.bool_], n_cat: int, category: NDArray[np.intp] | None = None
) -> tuple[Floats, Floats]:
    """Agreement with the gold output per (judge, category), from verdicts in `rows`
    (`category`: per pair, the file's categories unless given)."""
    support = _support_for_first_output(t)
    agree = np.where(t.gold[t.pair] == 0, support, 1.0 - support)
    key = t.judge * n_cat + (t.category if category is None else category)[t.pair]
    size = len(t.judges) * n_cat
    return (
        np.bincount(key[rows], agree[rows], size).astype(np.float64),
        np.bincount(key[rows], 1.0 - agree[rows], size).astype(np.float64),
    )


def _shrunk(agreed: Floats, disagreed: Floats, n_cat: int) -> tuple[Floats, Floats]:
    """Per (judge, topic) records shrunk toward the judge's overall record, by the
    node's own rule (`ranking.consensus.shrunk`, here on arrays)."""
    a: Any = agreed.reshape(-1, n_cat)  # the rule's arithmetic, broadcast over arrays
    d: Any = disagreed.reshape(-1, n_cat)
    overall = JudgeRecord(a.sum(axis=1, keepdims=True), d.sum(axis=1, keepdims=True))
    out = shrunk(JudgeRecord(a, d), overall)
    return np.ravel(out.agreed).astype(np.float64), np.ravel(out.disagreed).astype(np.float64)


def _swarm(
    t: JudgmentTable,
    rows: NDArray[np.bool_],
    rep_key: NDArray[np.intp],
    agreed: Floats,
    disagreed: Floats,
) -> Floats:
    """Per-pair credit of a node's rule: CrowdBT per round, one η per judge per round,
    its prior from the judge's record under `rep_key`."""
    a, b = reliability_prior(agreed, disagreed)
    key = t.pair * len(t.judges) + t.judge  # one η per judge per round
    v = _verdicts(t, key).select(rows)
    prior = np.zeros(len(t.pair_ids) * len(t.judges), np.intp)
    prior[key] = rep_key
    fit = crowd_bt_fit(v, len(t.pair_ids), 2, a[prior], b[prior], prior=BT_PRIOR)
    return credit(fit.scores, t.gold)


def evaluate_judgments(
    t: JudgmentTable,
    n_rotations: int = DEFAULT_ROTATIONS,
    seed: int = 0,
    progress: Progress | None = None,
    topics: NDArray[np.intp] | None = None,
) -> EvalReport:
    """Accuracy of each aggregation method on every pair, over calibration rotations
    (`topics`: an inferred topic per pair, for `swarm_inferred_topic`)."""
    n, n_cat = len(t.pair_ids), len(t.category_names)
    if n == 0 or t.pair.size == 0:
        raise InvalidTable("no pairs with verdicts to score")
    say = progress or (lambda _: None)
    say("baselines")
    fixed = _fixed_methods(t)
    per_judge = np.stack([credit(_decide(t, t.judge == j), t.gold) for j in range(len(t.judges))])
    sums: dict[str, float] = {}
    key = t.judge * n_cat + t.category[t.pair]
    for r, (cal, scored) in enumerate(rotations(t.category, n_rotations, seed)):
        say(f"rotation {r + 1}/{n_rotations}")
        cal_rows, scored_rows = cal[t.pair], scored[t.pair]
        agreed, disagreed = _judge_records(t, cal_rows, n_cat)
        got = {name: c[scored].mean() for name, c in fixed.items()}
        got["swarm"] = _swarm(t, scored_rows, key, agreed, disagreed)[scored].mean()
        flat = (agreed.reshape(-1, n_cat).sum(axis=1), disagreed.reshape(-1, n_cat).sum(axis=1))
        got["swarm_one_category"] = _swarm(t, scored_rows, t.judge, *flat)[scored].mean()
        if topics is not None:
            n_top = int(topics.max()) + 1
            records = _shrunk(*_judge_records(t, cal_rows, n_top, topics), n_top)
            by_topic = t.judge * n_top + topics[t.pair]
            got["swarm_inferred_topic"] = _swarm(t, scored_rows, by_topic, *records)[scored].mean()
        rate = smoothed_rate(agreed, agreed + disagreed).reshape(len(t.judges), n_cat)
        best = rate.argmax(axis=0)[t.category]  # per pair: its category's best judge
        got["best_single_calibrated"] = per_judge[best, np.arange(n)][scored].mean()
        got["best_single_hindsight"] = per_judge[:, scored].mean(axis=1).max()
        for name, value in got.items():
            sums[name] = sums.get(name, 0.0) + float(value) / n_rotations
    hindsight = int(per_judge.mean(axis=1).argmax())
    return EvalReport(
        items=n,
        methods=sums,
        calibration=calibration_note(n_rotations, seed),
        details={"best_judge_hindsight": t.judges[hindsight]},
    )
