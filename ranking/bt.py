"""Bradley–Terry fitting by maximum a posteriori (MAP) Newton iterations.

Model: P(i ≻ j) = σ(s_i − s_j). Each comparison k is a soft outcome
y_k ∈ [0, 1] (1: `first` won, 0: `second` won, 0.5: a tie) with a weight
w_k ≥ 0. The fit minimises

    L(s) = Σ_k w_k [−y_k log σ(d_k) − (1 − y_k) log σ(−d_k)] + (λ/2)‖s‖²,
    d_k = s_first(k) − s_second(k),

a weighted negative log-likelihood plus a weak Gaussian prior of precision λ
(`prior`), which keeps scores finite when one item wins everything and makes the
problem strictly convex. At the optimum the scores of every connected group of
items sum to zero. (choix's `opt_pairwise` with `alpha` is the same objective
for hard outcomes and unit weights, with λ = 2·alpha.)

Speed: the likelihood depends on the data only through the weighted win matrix
W[i, j] = Σ (weight that i beat j), so comparisons are first summed into W with
one `bincount`, and every Newton step costs O(n²) plus one n×n Cholesky solve,
whatever the number of comparisons. `bt_fit_batch` fits many independent small
problems (the rounds of an evaluation) at once with stacked arrays. The fit is
dense in the number of items: meant for up to a few thousand items per problem.

Uncertainty is the Laplace approximation: standard errors are the square roots
of the diagonal of the inverse Hessian at the optimum.
"""

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from ranking.errors import InvalidComparisons, NotConverged

__all__ = [
    "BTFit",
    "bt_fit_batch",
    "bt_fit_pairwise",
    "bt_objective",
    "curvature_hessian",
    "laplace_stderr",
    "newton_solve",
    "win_matrix",
]

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class BTFit:
    """Scores (centred log-strengths), their Laplace standard errors, iterations used.

    From `bt_fit_pairwise` the arrays have shape (n_items,); from `bt_fit_batch`,
    (n_problems, n_items).
    """

    scores: Floats
    stderr: Floats
    n_iter: int


def _as_data(
    n_items: int,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    weight: ArrayLike | None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], Floats, Floats]:
    i = np.asarray(first, dtype=np.intp).ravel()
    j = np.asarray(second, dtype=np.intp).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    w = np.ones_like(y) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if n_items < 1:
        raise InvalidComparisons(f"n_items must be at least 1, got {n_items}")
    if not (i.shape == j.shape == y.shape == w.shape):
        raise InvalidComparisons("first, second, outcome and weight must have the same length")
    if i.size and (i.min() < 0 or j.min() < 0 or i.max() >= n_items or j.max() >= n_items):
        raise InvalidComparisons(f"item index out of range 0..{n_items - 1}")
    if np.any(i == j):
        raise InvalidComparisons("an item cannot be compared with itself")
    if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
        raise InvalidComparisons("outcomes must lie in [0, 1]")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidComparisons("weights must be finite and non-negative")
    return i, j, y, w


def win_matrix(
    n_items: int,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    weight: ArrayLike | None = None,
) -> Floats:
    """W[i, j]: total weight of evidence that i beat j (a soft outcome splits its weight)."""
    i, j, y, w = _as_data(n_items, first, second, outcome, weight)
    return _wins(n_items, i, j, y, w)


def _wins(n: int, i: NDArray[np.intp], j: NDArray[np.intp], y: Floats, w: Floats) -> Floats:
    flat = np.bincount(i * n + j, w * y, n * n) + np.bincount(j * n + i, w * (1.0 - y), n * n)
    out: Floats = flat.reshape(n, n).astype(np.float64)
    return out


def _sigmoid(x: Floats) -> Floats:
    out: Floats = 0.5 * (1.0 + np.tanh(0.5 * x))
    return out


def bt_objective(
    scores: ArrayLike,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    weight: ArrayLike | None = None,
    prior: float = 0.01,
) -> float:
    """The penalised negative log-likelihood L(s) minimised by `bt_fit_pairwise`."""
    s = np.asarray(scores, dtype=np.float64)
    wins = win_matrix(s.size, first, second, outcome, weight)
    return float(_loss(s[None], _Evidence(wins[None]), prior)[0])


class _Evidence:
    """The non-zero entries of stacked win matrices, where the likelihood lives."""

    def __init__(self, wins: Floats) -> None:
        self.problem, self.winner, self.loser = np.nonzero(wins)
        self.weight = wins[self.problem, self.winner, self.loser]
        self.n_problems = wins.shape[0]


def _loss(s: Floats, ev: _Evidence, prior: float) -> Floats:
    """Per-problem objective for stacked scores (B, n)."""
    d = s[ev.problem, ev.winner] - s[ev.problem, ev.loser]
    nll = np.bincount(ev.problem, ev.weight * np.logaddexp(0.0, -d), ev.n_problems)
    out: Floats = nll + 0.5 * prior * np.einsum("bi,bi->b", s, s)
    return out


def bt_fit_pairwise(
    n_items: int,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    weight: ArrayLike | None = None,
    prior: float = 0.01,
    tol: float = 1e-9,
    max_iter: int = 100,
) -> BTFit:
    """MAP Bradley–Terry scores from weighted soft pairwise outcomes.

    `first[k]`, `second[k]` index the items of comparison k; `outcome[k]` is the
    (soft) probability that `first[k]` won; `weight[k]` scales its log-likelihood.
    Damped Newton steps until the Newton decrement ½·gᵀH⁻¹g (the predicted
    distance to the minimum of the objective) is below `tol` in every problem.
    Raises `NotConverged` if `max_iter` is reached first.
    """
    wins = win_matrix(n_items, first, second, outcome, weight)
    fit = bt_fit_batch(wins[None], prior=prior, tol=tol, max_iter=max_iter)
    return BTFit(fit.scores[0], fit.stderr[0], fit.n_iter)


def bt_fit_batch(
    wins: ArrayLike,
    prior: float = 0.01,
    tol: float = 1e-9,
    max_iter: int = 100,
    init: ArrayLike | None = None,
) -> BTFit:
    """Fit B independent problems given their win matrices, shape (B, n, n).

    Problems with fewer items are padded with items that have no comparisons;
    the prior holds those at score 0 with standard error 1/√λ. `init` (B, n)
    warm-starts the Newton iterations.
    """
    if prior <= 0:
        raise InvalidComparisons("prior precision must be positive (it keeps scores finite)")
    w = np.asarray(wins, dtype=np.float64)
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise InvalidComparisons("win matrices must have shape (problems, n, n)")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InvalidComparisons("wins must be finite and non-negative")
    b, n, _ = w.shape
    total = w + w.transpose(0, 2, 1)
    won = w.sum(axis=2)
    ev = _Evidence(w)
    s = np.zeros((b, n)) if init is None else np.array(init, dtype=np.float64).reshape(b, n)
    loss = _loss(s, ev, prior)
    for it in range(1, max_iter + 1):
        expected = total * _sigmoid(s[:, :, None] - s[:, None, :])  # T_ij·p_ij
        grad = expected.sum(axis=2) - won + prior * s
        hess = curvature_hessian(
            expected * expected.transpose(0, 2, 1) / _nonzero(total), prior
        )  # T·p·(1−p)
        if b == 0:
            return BTFit(s, s.copy(), it)
        step = newton_solve(hess, grad)
        if np.max(np.einsum("bi,bi->b", grad, step)) < 2 * tol:
            # Newton decrement below tol: the objective is within ~tol of its
            # minimum, and the full step lands closer still.
            return BTFit(s - step, laplace_stderr(hess), it)
        t = np.ones(b)
        while True:  # backtracking keeps each step a descent step, per problem
            candidate = s - t[:, None] * step
            new_loss = _loss(candidate, ev, prior)
            bad = (new_loss > loss + 1e-12 * np.abs(loss)) & (t >= 1e-8)
            if not bad.any():
                break
            t[bad] *= 0.5
        s, loss = candidate, new_loss
    raise NotConverged(f"Bradley–Terry fit did not converge in {max_iter} Newton steps")


def _nonzero(x: Floats) -> Floats:
    out: Floats = np.where(x > 0, x, 1.0)
    return out


def curvature_hessian(c: Floats, prior: float) -> Floats:
    """Hessian (B, n, n) of Σ c_ij·f(s_i − s_j) + (λ/2)‖s‖² from pair curvatures c (B, n, n)."""
    hess = -np.asarray(c, dtype=np.float64)  # bincount of no weights is int
    n = c.shape[1]
    idx = np.arange(n)
    hess[:, idx, idx] = c.sum(axis=2) + prior
    return hess


def newton_solve(hess: Floats, grad: Floats) -> Floats:
    """H⁻¹g for stacked positive definite Hessians (B, n, n) and gradients (B, n)."""
    if hess.shape[0] == 1:  # one large problem: Cholesky is about twice as fast as LU
        out: Floats = scipy.linalg.cho_solve(scipy.linalg.cho_factor(hess[0]), grad[0])[None]
        return out
    batched: Floats = np.linalg.solve(hess, grad[:, :, None])[:, :, 0].astype(np.float64)
    return batched


def laplace_stderr(hess: Floats) -> Floats:
    """√diag(H⁻¹) for stacked positive definite Hessians."""
    if hess.shape[0] == 1:  # inverse from the Cholesky factor (LAPACK potrf + potri)
        factor, info = scipy.linalg.lapack.dpotrf(hess[0], lower=1)
        inv, info2 = scipy.linalg.lapack.dpotri(factor, lower=1)
        if info or info2:
            raise NotConverged("the Hessian at the optimum is not positive definite")
        diag = np.diag(inv)[None]
    else:
        diag = np.diagonal(np.linalg.inv(hess), axis1=1, axis2=2)
    out: Floats = np.sqrt(np.clip(diag, 0.0, None))
    return out
