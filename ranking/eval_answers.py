"""`swarm eval answers`: simulated rounds of swarm members over many models' answers.

Each item (question) is one round. How a round is simulated from the data:

- **Answering.** A member's answer is its column in the file. Identical answers
  (after trimming) are one candidate, as the copy check groups them in a node.
- **Judging.** A judge is a member of the round; its verdict on a pair of
  candidates is derived from its own answer: it prefers the candidate equal to
  its answer, in both orders (y = 1 shown first, y = 0 shown second), and
  gives no verdict on a pair that contains neither. This is a judge that
  solves the question itself and checks the candidates against its solution.
  (The data hold nothing else about the members, so here a judge does judge
  the candidate it gave itself; in a node, the no-self-judging rule applies to
  nodes' own texts.)

Methods, for one set of members (all of them, or a random swarm of 5):

- `majority`: the most common answer among the members.
- `bt_unweighted`: every member answers and judges; Bradley–Terry on all
  verdicts with unit weights.
- `ilsr`: as `bt_unweighted`, fitted by choix's ILSR (all members only: one
  choix call per round is slow).
- `best_single_calibrated`: in each category, the member with the best
  calibration accuracy answers alone.
- `swarm`: what a node does. Reputation is each member's accuracy on the
  calibration split, per category. The k members with the highest reputation in
  the item's category answer and judge each other (reputation-weighted choice
  of who answers); CrowdBT fits the verdicts with each judge's reliability prior
  from its calibration record (agreement with the known answer), per category.
  k (1 to `max_answerers`) is the one that did best on the calibration split.
- `best_single_hindsight`: the single member with the best accuracy on the
  scored items, chosen with their gold labels (a reference, not a method).

See `ranking.calibration` for the calibration split.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.baselines import credit, ilsr_scores, majority_scores
from ranking.bt import bt_fit_batch
from ranking.calibration import DEFAULT_ROTATIONS, calibration_note, rotations, smoothed_rate
from ranking.crowd import Verdicts, crowd_bt_fit, reliability_prior
from ranking.eval_judges import BT_PRIOR, EvalReport
from ranking.tables import AnswerTable, InvalidTable

__all__ = ["DEFAULT_SWARMS", "MAX_ANSWERERS", "evaluate_answers"]

Ints = NDArray[np.intp]
Floats = NDArray[np.float64]
Progress = Callable[[str], None]

MAX_ANSWERERS = 8
DEFAULT_SWARMS = 20


@dataclass(frozen=True)
class _Round:
    """One round per item: the answerers' candidate slots and member ids (items × answerers).

    Candidates are numbered per round, 0..(distinct answers − 1), so the fit
    works on as many candidates as the round has, not the whole answer space.
    """

    codes: Ints
    who: Ints
    present: NDArray[np.bool_]
    gold: Ints


def _round(t: AnswerTable, items: Ints, who: Ints) -> _Round:
    raw = t.answers[items[:, None], who]
    k = raw.shape[1]
    earlier = np.tril(np.ones((k, k), bool), -1)  # earlier[a, b]: b comes before a
    first = (raw >= 0) & ~((raw[:, :, None] == raw[:, None, :]) & earlier).any(axis=2)
    below = raw[:, None, :] < raw[:, :, None]  # [i, a, b]: answer b sorts before answer a
    slot = np.where(raw >= 0, (below & first[:, None, :]).sum(axis=2), -1)
    n_cand = max(int(first.sum(axis=1).max(initial=0)), 1)
    present = np.arange(n_cand)[None, :] < first.sum(axis=1)[:, None]
    match = raw == t.gold[items][:, None]
    gold = np.where(match.any(axis=1), slot[np.arange(items.size), match.argmax(axis=1)], -1)
    return _Round(slot, who, present, gold)


def _verdicts(rnd: _Round, judge_key: Ints) -> Verdicts:
    """Both orders of "my answer beats that candidate" for every judge and other candidate."""
    n_items, k = rnd.codes.shape
    c = rnd.present.shape[1]
    item, slot, other = np.meshgrid(np.arange(n_items), np.arange(k), np.arange(c), indexing="ij")
    own = rnd.codes[item, slot]
    ok = (own >= 0) & rnd.present[item, other] & (other != own)
    item, own, other, judge = item[ok], own[ok], other[ok], judge_key[item, slot][ok]
    m = item.size
    return Verdicts.of(
        np.concatenate([item, item]),
        np.concatenate([own, other]),
        np.concatenate([other, own]),
        np.concatenate([np.ones(m), np.zeros(m)]),
        np.concatenate([judge, judge]),
    )


def _crowd_credit(
    t: AnswerTable, items: Ints, rnd: _Round, judge_key: Ints, alpha: Floats, beta: Floats
) -> Floats:
    v = _verdicts(rnd, judge_key)
    fit = crowd_bt_fit(v, items.size, rnd.present.shape[1], alpha, beta, prior=BT_PRIOR)
    return credit(fit.scores, rnd.gold, rnd.present)


def _fixed_methods(t: AnswerTable, members: Ints, with_ilsr: bool) -> dict[str, Floats]:
    """Per-item credit of the methods that use no labels."""
    items = np.arange(len(t.item_ids))
    rnd = _round(t, items, np.broadcast_to(members, (items.size, members.size)))
    gold, c = rnd.gold, rnd.present.shape[1]
    out = {"majority": credit(majority_scores(rnd.codes, c), gold, rnd.present)}
    v = _verdicts(rnd, rnd.who)
    bt = bt_fit_batch(v.win_matrices(items.size, c), prior=BT_PRIOR)
    out["bt_unweighted"] = credit(bt.scores, gold, rnd.present)
    if with_ilsr:
        out["ilsr"] = credit(_ilsr_all(v, items.size, c), gold, rnd.present)
    return out


def _ilsr_all(v: Verdicts, n_problems: int, c: int) -> Floats:
    won = v.outcome == 1
    winners = np.where(won, v.first, v.second)
    losers = np.where(won, v.second, v.first)
    order = np.argsort(v.problem, kind="stable")
    bounds = np.cumsum(np.bincount(v.problem, minlength=n_problems))[:-1]
    scores = np.zeros((n_problems, c))
    for p, rows in enumerate(np.split(order, bounds)):
        if rows.size:
            scores[p] = ilsr_scores(c, winners[rows], losers[rows])
    return scores


@dataclass(frozen=True)
class _Reputation:
    """From a calibration split: answering accuracy and judging records, per member × category."""

    accuracy: Floats
    alpha: Floats
    beta: Floats

    @classmethod
    def measure(cls, t: AnswerTable, cal: NDArray[np.bool_], members: Ints) -> "_Reputation":
        """Answering: accuracy. Judging: agreement with the known answer over the
        calibration rounds where it was at stake (the member was right, or it
        was wrong while another member of the set gave the right answer)."""
        n_cat, n_mem = len(t.category_names), len(t.members)
        right = (t.answers == t.gold[:, None]) & (t.gold[:, None] >= 0)
        offered = right[:, members].any(axis=1, keepdims=True)
        wrong = (t.answers >= 0) & ~right & offered
        cat = t.category[cal]
        agreed = np.stack([np.bincount(cat, right[cal, m], n_cat) for m in range(n_mem)])
        disagreed = np.stack([np.bincount(cat, wrong[cal, m], n_cat) for m in range(n_mem)])
        seen = np.bincount(cat, minlength=n_cat)[None, :]
        alpha, beta = reliability_prior(agreed.ravel(), disagreed.ravel())
        return cls(smoothed_rate(agreed, seen), alpha, beta)


def _swarm_credit(t: AnswerTable, items: Ints, members: Ints, rep: _Reputation, k: int) -> Floats:
    n_cat = len(t.category_names)
    rank = rep.accuracy[members][:, t.category[items]].T  # items × members
    order = np.argsort(-rank, axis=1, kind="stable")[:, :k]
    rnd = _round(t, items, members[order])
    prior = rnd.who * n_cat + t.category[items][:, None]  # (member, category) of each judge
    key = np.arange(rnd.who.size).reshape(rnd.who.shape)  # one η per judge per round
    return _crowd_credit(t, items, rnd, key, rep.alpha[prior].ravel(), rep.beta[prior].ravel())


def _evaluate_set(
    t: AnswerTable,
    members: Ints,
    n_rotations: int,
    seed: int,
    max_answerers: int,
    with_ilsr: bool,
) -> tuple[dict[str, float], list[int]]:
    fixed = _fixed_methods(t, members, with_ilsr)
    right = np.where(t.gold[:, None] >= 0, t.answers[:, members] == t.gold[:, None], False)
    sums: dict[str, float] = {}
    chosen_k = []
    for cal, scored in rotations(t.category, n_rotations, seed):
        rep = _Reputation.measure(t, cal, members)
        cal_items, scored_items = np.flatnonzero(cal), np.flatnonzero(scored)
        ks = range(1, min(max_answerers, members.size) + 1)
        fits = [_swarm_credit(t, cal_items, members, rep, k).mean() for k in ks]
        k = ks[int(np.argmax(fits))]
        chosen_k.append(k)
        got = {name: c[scored].mean() for name, c in fixed.items()}
        got["swarm"] = _swarm_credit(t, scored_items, members, rep, k).mean()
        pick = rep.accuracy[members].argmax(axis=0)[t.category]  # position in `members`
        got["best_single_calibrated"] = right[np.arange(pick.size), pick][scored].mean()
        got["best_single_hindsight"] = right[scored].mean(axis=0).max()
        for name, value in got.items():
            sums[name] = sums.get(name, 0.0) + float(value) / n_rotations
    return sums, chosen_k


def evaluate_answers(
    t: AnswerTable,
    n_rotations: int = DEFAULT_ROTATIONS,
    seed: int = 0,
    swarm_size: int = 5,
    n_swarms: int = DEFAULT_SWARMS,
    max_answerers: int = MAX_ANSWERERS,
    progress: Progress | None = None,
) -> EvalReport:
    """Accuracy per method for all members, and the mean over random swarms of `swarm_size`."""
    if not max_answerers >= 1:
        raise InvalidTable("max_answerers must be at least 1")
    say = progress or (lambda _: None)
    everyone = np.arange(len(t.members))
    say("all members")
    methods, ks = _evaluate_set(t, everyone, n_rotations, seed, max_answerers, with_ilsr=True)
    details: dict[str, object] = {"answerers_chosen": ks}
    if 2 <= swarm_size < len(t.members) and n_swarms > 0:
        rng = np.random.default_rng(seed)
        runs = []
        for s in range(n_swarms):
            say(f"swarm {s + 1}/{n_swarms}")
            members = np.sort(rng.choice(everyone, swarm_size, replace=False))
            runs.append(_evaluate_set(t, members, n_rotations, seed, max_answerers, False)[0])
        names = runs[0].keys()
        details["swarms"] = {
            "size": swarm_size,
            "count": n_swarms,
            "methods": {n: float(np.mean([r[n] for r in runs])) for n in names},
            "swarm_at_or_above_best_member": float(
                np.mean([r["swarm"] >= r["best_single_hindsight"] for r in runs])
            ),
        }
    return EvalReport(
        items=len(t.item_ids),
        methods=methods,
        calibration=calibration_note(n_rotations, seed),
        details=details,
    )
