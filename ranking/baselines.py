"""Baselines the swarm is compared with, and how every method is scored.

- `majority_scores`: (weighted) votes per candidate; the most votes wins.
- unweighted Bradley–Terry is `ranking.bt.bt_fit_batch` on raw verdicts.
- `ilsr_scores`: choix's iterative Luce spectral ranking (Maystre & Grossglauser,
  2015), used for comparison only.
- `credit`: the score of a decision against a gold label: 1 when the gold
  candidate alone has the top score, 1/t when it shares the top with t − 1
  others (a fair coin among them), 0 otherwise.
"""

import choix
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["credit", "ilsr_scores", "majority_scores"]

Floats = NDArray[np.float64]

TIE_TOLERANCE = 1e-9


def credit(scores: ArrayLike, gold: ArrayLike, present: ArrayLike | None = None) -> Floats:
    """Per-problem credit of picking the top score, for scores (problems × candidates).

    `present` masks the candidates that exist in each problem; `gold` = −1
    (the right answer is not among the candidates) always earns 0.
    """
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(gold, dtype=np.intp)
    mask = np.ones(s.shape, bool) if present is None else np.asarray(present, dtype=bool)
    s = np.where(mask, s, -np.inf)
    top = s.max(axis=1, keepdims=True)
    tied = mask & (s >= top - TIE_TOLERANCE)
    rows = np.arange(s.shape[0])
    hit = (g >= 0) & tied[rows, np.clip(g, 0, None)]
    out: Floats = np.where(hit, 1.0 / np.maximum(tied.sum(axis=1), 1), 0.0)
    return out


def majority_scores(votes: ArrayLike, n_candidates: int, weight: ArrayLike | None = None) -> Floats:
    """Vote totals (problems × candidates) from a vote matrix (problems × voters).

    `votes[k, v]` is the candidate voter v chose in problem k, or −1 (no vote).
    """
    v = np.asarray(votes, dtype=np.intp)
    w = np.ones(v.shape) if weight is None else np.broadcast_to(np.asarray(weight, float), v.shape)
    rows = np.broadcast_to(np.arange(v.shape[0])[:, None], v.shape)
    ok = v >= 0
    flat = np.bincount(rows[ok] * n_candidates + v[ok], w[ok], v.shape[0] * n_candidates)
    out: Floats = flat.reshape(v.shape[0], n_candidates).astype(np.float64)
    return out


def ilsr_scores(n_items: int, winners: ArrayLike, losers: ArrayLike, alpha: float = 0.01) -> Floats:
    """choix's ILSR estimate from hard comparisons (winner, loser); ties are dropped upstream."""
    data = np.stack([np.asarray(winners, np.intp), np.asarray(losers, np.intp)], axis=1)
    if len(data) == 0:
        return np.zeros(n_items)
    out: Floats = choix.ilsr_pairwise(n_items, data, alpha=alpha)
    return out
