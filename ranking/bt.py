"""Bradley–Terry fitting by maximum a posteriori (MAP) Newton iterations.

Model: P(i ≻ j) = σ(s_i − s_j). Each comparison k is a soft outcome
y_k ∈ [0, 1] (1: `first` won, 0: `second` won, 0.5: a tie) with a weight
w_k ≥ 0. The fit minimises

    L(s) = Σ_k w_k [−y_k log σ(d_k) − (1 − y_k) log σ(−d_k)] + (λ/2)‖s‖²,
    d_k = s_first(k) − s_second(k),

a weighted negative log-likelihood plus a weak Gaussian prior of precision λ
(`prior`), which keeps scores finite when one item wins everything and makes the
problem strictly convex. At the optimum Σ s_i = 0. (choix's `opt_pairwise`
with `alpha` is the same objective for hard outcomes and unit weights, with
λ = 2·alpha.)

Uncertainty is the Laplace approximation: standard errors are the square roots
of the diagonal of the inverse Hessian at the optimum.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.errors import InvalidComparisons, NotConverged

__all__ = ["BTFit", "bt_fit_pairwise", "bt_objective"]


@dataclass(frozen=True)
class BTFit:
    """Scores (centred log-strengths), their Laplace standard errors, iterations used."""

    scores: NDArray[np.float64]
    stderr: NDArray[np.float64]
    n_iter: int


def _as_data(
    n_items: int,
    first: ArrayLike,
    second: ArrayLike,
    outcome: ArrayLike,
    weight: ArrayLike | None,
) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64], NDArray[np.float64]]:
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


def _sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = 0.5 * (1.0 + np.tanh(0.5 * x))
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
    return _loss(s, *_as_data(s.size, first, second, outcome, weight), prior)


def _loss(
    s: NDArray[np.float64],
    i: NDArray[np.intp],
    j: NDArray[np.intp],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    prior: float,
) -> float:
    d = s[i] - s[j]
    nll = w * (y * np.logaddexp(0.0, -d) + (1.0 - y) * np.logaddexp(0.0, d))
    return float(nll.sum() + 0.5 * prior * np.dot(s, s))


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
    Damped Newton steps until the gradient's largest entry is below `tol`.
    Raises `NotConverged` if `max_iter` is reached first.
    """
    if prior <= 0:
        raise InvalidComparisons("prior precision must be positive (it keeps scores finite)")
    i, j, y, w = _as_data(n_items, first, second, outcome, weight)
    n = n_items
    s = np.zeros(n)
    flat_ii, flat_jj, flat_ij = i * n + i, j * n + j, i * n + j
    loss = _loss(s, i, j, y, w, prior)
    for it in range(1, max_iter + 1):
        p = _sigmoid(s[i] - s[j])
        r = w * (p - y)
        grad = np.bincount(i, r, n) - np.bincount(j, r, n) + prior * s
        hess = _hessian(n, w * p * (1 - p), flat_ii, flat_jj, flat_ij, prior)
        if np.max(np.abs(grad)) < tol:
            return BTFit(s, _stderr(hess), it)
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while True:  # backtracking keeps each step a descent step
            candidate = s - t * step
            new_loss = _loss(candidate, i, j, y, w, prior)
            if new_loss <= loss + 1e-12 * abs(loss) or t < 1e-8:
                break
            t *= 0.5
        s, loss = candidate, new_loss
    raise NotConverged(f"Bradley–Terry fit did not converge in {max_iter} Newton steps")


def _hessian(
    n: int,
    c: NDArray[np.float64],
    flat_ii: NDArray[np.intp],
    flat_jj: NDArray[np.intp],
    flat_ij: NDArray[np.intp],
    prior: float,
) -> NDArray[np.float64]:
    diag = np.bincount(flat_ii, c, n * n) + np.bincount(flat_jj, c, n * n)
    off = np.bincount(flat_ij, c, n * n).reshape(n, n)
    hess: NDArray[np.float64] = diag.reshape(n, n).astype(np.float64) - off - off.T
    hess[np.diag_indices(n)] += prior
    return hess


def _stderr(hess: NDArray[np.float64]) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.sqrt(np.clip(np.diag(np.linalg.inv(hess)), 0.0, None))
    return out
