"""Bradley–Terry scores and judge reliability estimated jointly (CrowdBT, by EM).

Model (Chen et al., "Pairwise ranking aggregation in a crowdsourced setting",
2013): judge u reports the true order of a pair with probability η_u and the
reverse with probability 1 − η_u,

    P(verdict "i ≻ j" from u) = η_u σ(s_i − s_j) + (1 − η_u) σ(s_j − s_i).

A verdict is a soft outcome y ∈ [0, 1] (0.5 = a tie) with a weight w ≥ 0 that
scales its log-likelihood. Priors: s ~ N(0, 1/λ) per item (as in `ranking.bt`)
and η_u ~ Beta(α_u, β_u), where (α_u, β_u) come from the judge's reputation
(`reliability_prior`). A judge with η < ½ is read in reverse; with η = ½ its
verdicts carry no information. So a judge that is reliably wrong, or a clique
that votes against the consensus of the rest, loses weight from the data in
hand, and its reputation only sets where that estimate starts and how much
evidence it takes to move it.

Fitting maximises the joint posterior by block-coordinate ascent. With η
fixed, the scores take Fisher-scoring steps (the Fisher information of each
verdict, w(2η−1)²σ'(d)²/(m(1−m)) with m = P(verdict), is a positive curvature,
so every step solves a graph-Laplacian system as in `ranking.bt`) with
backtracking on the true objective. With the scores fixed, each η_u maximises a
concave one-dimensional function (the likelihood is affine in η inside each
log), solved by Newton's method. Neither block can lower the posterior, and
both converge fast, unlike EM, which crawls when judges disagree.

Many independent problems (rounds) share the judges' η: that is how reliability
learned in one round informs the others, and it is how the evaluation in
`ranking.evaluate` runs thousands of rounds at once.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

from ranking.bt import curvature_hessian, laplace_stderr, newton_solve
from ranking.errors import InvalidComparisons, NotConverged

__all__ = ["CrowdFit", "Verdicts", "crowd_bt_fit", "reliability_prior"]

Floats = NDArray[np.float64]
Ints = NDArray[np.intp]

_ETA_FLOOR = 1e-4  # keeps logit(η) finite


@dataclass(frozen=True)
class Verdicts:
    """Columns of pairwise verdicts: problem k showed `first` then `second` to `judge`."""

    problem: Ints
    first: Ints
    second: Ints
    outcome: Floats
    judge: Ints
    weight: Floats

    @classmethod
    def of(
        cls,
        problem: ArrayLike,
        first: ArrayLike,
        second: ArrayLike,
        outcome: ArrayLike,
        judge: ArrayLike,
        weight: ArrayLike | None = None,
    ) -> "Verdicts":
        y = np.asarray(outcome, dtype=np.float64).ravel()
        w = np.ones_like(y) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
        cols = [np.asarray(c, dtype=np.intp).ravel() for c in (problem, first, second, judge)]
        if any(c.shape != y.shape for c in cols) or w.shape != y.shape:
            raise InvalidComparisons("all verdict columns must have the same length")
        if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
            raise InvalidComparisons("outcomes must lie in [0, 1]")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise InvalidComparisons("weights must be finite and non-negative")
        if y.size and min(c.min() for c in cols) < 0:
            raise InvalidComparisons("indices must be non-negative")
        if np.any(cols[1] == cols[2]):
            raise InvalidComparisons("an item cannot be compared with itself")
        return cls(cols[0], cols[1], cols[2], y, cols[3], w)

    def win_matrices(self, n_problems: int, n_items: int) -> Floats:
        """W[p, i, j]: weight of evidence that i beat j in problem p (for `bt_fit_batch`)."""
        size = n_problems * n_items * n_items
        cell = (self.problem * n_items + self.first) * n_items + self.second
        back = (self.problem * n_items + self.second) * n_items + self.first
        wins = np.bincount(cell, self.weight * self.outcome, size)
        wins += np.bincount(back, self.weight * (1.0 - self.outcome), size)
        out: Floats = wins.reshape(n_problems, n_items, n_items).astype(np.float64)
        return out

    def select(self, keep: NDArray[np.bool_]) -> "Verdicts":
        return Verdicts(
            self.problem[keep],
            self.first[keep],
            self.second[keep],
            self.outcome[keep],
            self.judge[keep],
            self.weight[keep],
        )


@dataclass(frozen=True)
class CrowdFit:
    """Scores and Laplace standard errors (problems × items), η per judge, EM steps."""

    scores: Floats
    stderr: Floats
    reliability: Floats
    n_iter: int


def reliability_prior(
    agreed: ArrayLike, disagreed: ArrayLike, base: tuple[float, float] = (2.0, 1.0)
) -> tuple[Floats, Floats]:
    """Beta(α, β) for each judge from its record: α = base α + agreed, β = base β + disagreed.

    The record is counts (or weights) of verdicts that agreed or disagreed with
    a known better answer (calibration) or with past rounds' consensus. The base
    (2, 1) says "a judge is more often right than wrong" with the weight of
    three verdicts, so a judge without a record still counts, a little.
    """
    a = np.asarray(agreed, dtype=np.float64)
    b = np.asarray(disagreed, dtype=np.float64)
    if a.shape != b.shape or np.any(a < 0) or np.any(b < 0):
        raise InvalidComparisons("agreement counts must be non-negative and of equal shape")
    return base[0] + a, base[1] + b


def crowd_bt_fit(
    verdicts: Verdicts,
    n_problems: int,
    n_items: int,
    alpha: ArrayLike,
    beta: ArrayLike,
    prior: float = 0.1,
    tol: float = 1e-10,
    max_iter: int = 2000,
) -> CrowdFit:
    """Joint MAP of scores (n_problems × n_items) and each judge's reliability η.

    `alpha`, `beta` (one per judge, each ≥ 1) are the judges' Beta priors on η.
    Stops when one round of both blocks lowers the negative log posterior by
    less than `tol` relative to its size (both blocks only ever lower it).
    """
    a = np.asarray(alpha, dtype=np.float64).ravel()
    b = np.asarray(beta, dtype=np.float64).ravel()
    v = verdicts
    if a.shape != b.shape or np.any(a < 1) or np.any(b < 1):
        raise InvalidComparisons("reliability priors need α ≥ 1 and β ≥ 1 for every judge")
    if v.outcome.size and (v.judge.max() >= a.size or v.problem.max() >= n_problems):
        raise InvalidComparisons("a verdict names a judge or problem out of range")
    if v.outcome.size and max(v.first.max(), v.second.max()) >= n_items:
        raise InvalidComparisons(f"item index out of range 0..{n_items - 1}")
    if prior <= 0:
        raise InvalidComparisons("prior precision must be positive (it keeps scores finite)")
    data = _Data(v, n_problems, n_items, prior)
    eta = np.clip(a / (a + b), _ETA_FLOOR, 1 - _ETA_FLOOR)
    scores = np.zeros((n_problems, n_items))
    loss = np.inf
    for it in range(1, max_iter + 1):
        scores, hess = data.scores_step(scores, eta[v.judge])
        eta = _eta_step(v, expit(data.diff(scores)), eta, a, b)
        new_loss = float(data.objective(scores, eta[v.judge]).sum()) - float(
            np.sum((a - 1) * np.log(eta) + (b - 1) * np.log1p(-eta))
        )
        if loss - new_loss <= tol * max(1.0, abs(new_loss)):
            return CrowdFit(scores, laplace_stderr(hess), eta, it)
        loss = new_loss
    raise NotConverged(f"CrowdBT did not converge in {max_iter} steps")


class _Data:
    """Verdicts laid out for the score step of many problems at once."""

    def __init__(self, v: Verdicts, n_problems: int, n_items: int, prior: float) -> None:
        self.v, self.n, self.b, self.prior = v, n_items, n_problems, prior
        self.size = n_problems * n_items * n_items
        self.cell = (v.problem * n_items + v.first) * n_items + v.second
        self.row_first = v.problem * n_items + v.first
        self.row_second = v.problem * n_items + v.second

    def diff(self, s: Floats) -> Floats:
        out: Floats = s[self.v.problem, self.v.first] - s[self.v.problem, self.v.second]
        return out

    def objective(self, s: Floats, eta: Floats) -> Floats:
        """Per-problem negative log posterior in the scores (η fixed)."""
        m = _verdict_prob(expit(self.diff(s)), eta)
        v = self.v
        nll = -v.weight * (v.outcome * np.log(m) + (1 - v.outcome) * np.log1p(-m))
        out: Floats = np.bincount(v.problem, nll, self.b) + 0.5 * self.prior * (s * s).sum(axis=1)
        return out

    def scores_step(self, s: Floats, eta: Floats) -> tuple[Floats, Floats]:
        """One Fisher-scoring step in the scores, backtracked so the objective cannot rise."""
        v = self.v
        p = expit(self.diff(s))
        m = _verdict_prob(p, eta)
        dm = (2 * eta - 1) * p * (1 - p)  # ∂m/∂d
        var = m * (1 - m)
        g = v.weight * (m - v.outcome) * dm / var  # ∂(nll)/∂d
        c = v.weight * dm * dm / var  # Fisher information along d
        grad = (
            np.bincount(self.row_first, g, self.b * self.n)
            - np.bincount(self.row_second, g, self.b * self.n)
        ).reshape(self.b, self.n) + self.prior * s
        cells = np.bincount(self.cell, c, self.size).reshape(self.b, self.n, self.n) * 1.0
        hess = curvature_hessian(cells + cells.transpose(0, 2, 1), self.prior)
        step = newton_solve(hess, grad)
        loss = self.objective(s, eta)
        t = np.ones(self.b)
        while True:
            candidate = s - t[:, None] * step
            bad = (self.objective(candidate, eta) > loss + 1e-12 * np.abs(loss)) & (t > 0)
            if not bad.any():
                return candidate, hess
            t[bad] *= 0.5
            t[t < 1e-8] = 0.0  # no descent left at machine precision: stay put


def _verdict_prob(p: Floats, eta: Floats) -> Floats:
    """P(the verdict says first ≻ second) = η·p + (1 − η)·(1 − p), kept inside (0, 1)."""
    out: Floats = np.clip((1 - eta) + (2 * eta - 1) * p, 1e-12, 1 - 1e-12)
    return out


def _eta_step(v: Verdicts, p: Floats, eta: Floats, a: Floats, b: Floats) -> Floats:
    """Maximise each judge's concave posterior in η by safeguarded Newton steps."""
    n = a.size
    base, slope = 1 - p, 2 * p - 1  # m(η) = base + η·slope
    y, w = v.outcome, v.weight
    for _ in range(30):
        m = np.clip(base + eta[v.judge] * slope, 1e-12, 1 - 1e-12)
        d1 = w * slope * (y / m - (1 - y) / (1 - m))
        d2 = -w * slope**2 * (y / m**2 + (1 - y) / (1 - m) ** 2)
        grad = np.bincount(v.judge, d1, n) + (a - 1) / eta - (b - 1) / (1 - eta)
        curv = np.bincount(v.judge, d2, n) - (a - 1) / eta**2 - (b - 1) / (1 - eta) ** 2
        step = np.where(curv < 0, -grad / np.minimum(curv, -1e-12), 0.0)
        new = np.clip(eta + step, _ETA_FLOOR, 1 - _ETA_FLOOR)
        if np.max(np.abs(new - eta), initial=0.0) < 1e-10:
            return new
        eta = new
    return eta
