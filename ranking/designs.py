"""Sparse pair designs and judge assignment for one round.

`pair_design(n, k, seed)` returns unordered pairs (i < j) of candidates with
these guarantees, all tested:

- every candidate is in at least min(k, n − 1) pairs;
- the comparison graph is connected (for n ≥ 3 it contains a Hamiltonian cycle
  in a seeded random order), so every score is comparable with every other;
- no pair repeats; the same (n, k, seed) gives the same design.

`assign_judges` gives each pair to one judge who wrote neither candidate, and
that judge sees the pair in both orders (first/second and swapped), which
cancels the judge's own position bias. Judges are taken least-loaded first,
ties broken by the seeded generator. Pairs no judge may judge come back in
`unassigned` for the caller to decide on.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from ranking.errors import DesignError

__all__ = ["Assignment", "JudgeAssignment", "assign_judges", "pair_design", "weighted_draw"]


def pair_design(n_candidates: int, k: int, seed: int) -> list[tuple[int, int]]:
    """Unordered pairs (i < j) with every candidate in ≥ min(k, n−1) pairs."""
    if n_candidates < 0 or k < 1:
        raise DesignError(f"need n_candidates ≥ 0 and k ≥ 1, got {n_candidates}, {k}")
    n = n_candidates
    if n < 2:
        return []
    rng = np.random.default_rng(seed)
    need = min(k, n - 1)
    pairs: set[tuple[int, int]] = set()
    order = rng.permutation(n)
    # A cycle (a single edge for n = 2) makes the design connected.
    edges = n if n >= 3 else 1
    for a in range(edges):
        u, v = int(order[a]), int(order[(a + 1) % n])
        pairs.add((min(u, v), max(u, v)))
    degree = np.zeros(n, dtype=int)
    for u, v in pairs:
        degree[u] += 1
        degree[v] += 1
    while degree.min() < need:
        u = int(rng.choice(np.flatnonzero(degree == degree.min())))
        partners = [v for v in range(n) if v != u and (min(u, v), max(u, v)) not in pairs]
        # Prefer the least-covered partners so the design stays sparse.
        low = min(degree[v] for v in partners)
        v = int(rng.choice([p for p in partners if degree[p] == low]))
        pairs.add((min(u, v), max(u, v)))
        degree[u] += 1
        degree[v] += 1
    return sorted(pairs)


@dataclass(frozen=True)
class Assignment:
    """One judging task: `judge` compares candidate `first` against `second`."""

    judge: str
    first: int
    second: int


@dataclass(frozen=True)
class JudgeAssignment:
    assignments: list[Assignment]
    unassigned: list[tuple[int, int]]


def assign_judges(
    pairs: Sequence[tuple[int, int]],
    authors: Sequence[Collection[str]],
    judges: Sequence[str],
    seed: int,
) -> JudgeAssignment:
    """Give each pair, in both orders, to one judge that wrote neither candidate."""
    if len(set(judges)) != len(judges):
        raise DesignError("judge ids must be unique")
    rng = np.random.default_rng(seed)
    load = dict.fromkeys(judges, 0)
    out: list[Assignment] = []
    unassigned: list[tuple[int, int]] = []
    for u, v in pairs:
        if not (0 <= u < len(authors) and 0 <= v < len(authors)) or u == v:
            raise DesignError(f"pair {(u, v)} does not name two candidates")
        barred = set(authors[u]) | set(authors[v])
        eligible = [j for j in judges if j not in barred]
        if not eligible:
            unassigned.append((u, v))
            continue
        low = min(load[j] for j in eligible)
        choices = [j for j in eligible if load[j] == low]
        judge = choices[int(rng.integers(len(choices)))]
        load[judge] += 2
        out.append(Assignment(judge, u, v))
        out.append(Assignment(judge, v, u))
    return JudgeAssignment(out, unassigned)


def weighted_draw(ids: Sequence[str], weights: Sequence[float], k: int, seed: int) -> list[str]:
    """Draw up to `k` distinct ids with probability proportional to weight, seeded.

    Ids are sorted first, so anyone holding the same ids, weights and seed redraws
    the same participants whatever order they list them in.
    """
    if len(ids) != len(weights):
        raise DesignError("ids and weights differ in length")
    order = sorted(range(len(ids)), key=lambda a: ids[a])
    w = np.asarray([weights[a] for a in order], dtype=float)
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise DesignError("weights must be finite and non-negative")
    positive = int(np.count_nonzero(w))
    take = min(k, positive)
    if take == 0:
        return []
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(order), size=take, replace=False, p=w / w.sum())
    return [ids[order[int(a)]] for a in sorted(picked)]
