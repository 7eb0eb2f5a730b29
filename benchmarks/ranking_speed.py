"""Ranking speed: our Bradley–Terry fit next to choix's ILSR, same data, same run.

For each (items, comparisons) it draws strengths ~ N(0, 1) and comparisons
between random pairs from the BT model, then fits with both methods at their
default tolerances and a weak regularisation (choix alpha = a, our prior
precision λ = 2a). Accuracy is the Pearson correlation with a reference MLE:
ILSR run to tol 1e-12 (choix's code, not ours). ILSR's alpha smooths its
Markov chain while ours is a Gaussian prior, so where items have few
comparisons the two estimate slightly different things (choix's exact
`opt_pairwise` was too slow at 10^6 comparisons to serve as the reference).
Times are medians of repeats; our time includes the Laplace standard errors
that ILSR does not compute.

    python benchmarks/ranking_speed.py [--quick] [--write]
"""

import argparse
import statistics
import time
from functools import partial

import choix
import numpy as np
from results import machine_line, write_section

from ranking.bt import bt_fit_pairwise

ALPHA = 1e-3
GRID = [
    (50, 10_000),
    (200, 10_000),
    (200, 100_000),
    (500, 10_000),
    (500, 100_000),
    (500, 1_000_000),
    (1000, 10_000),
    (1000, 100_000),
    (1000, 1_000_000),
]


def _timed(fn, repeats: int):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(grid: list[tuple[int, int]], seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for n, k in grid:
        strength = rng.normal(size=n)
        i = rng.integers(0, n, k)
        j = (i + rng.integers(1, n, k)) % n
        won = rng.random(k) < 1 / (1 + np.exp(strength[j] - strength[i]))
        winners, losers = np.where(won, i, j), np.where(won, j, i)
        data = np.stack([winners, losers], axis=1)
        reference = choix.ilsr_pairwise(n, data, alpha=ALPHA, tol=1e-12, max_iter=1000)
        ours_t, ours = _timed(
            partial(bt_fit_pairwise, n, winners, losers, np.ones(k), prior=2 * ALPHA), 3
        )
        repeats = 3 if ours_t * 30 < 2 else 1
        ilsr_t, ilsr = _timed(partial(choix.ilsr_pairwise, n, data, alpha=ALPHA), repeats)
        rows.append(
            {
                "items": n,
                "comparisons": k,
                "ours_s": ours_t,
                "ilsr_s": ilsr_t,
                "ours_corr": float(np.corrcoef(ours.scores, reference)[0, 1]),
                "ilsr_corr": float(np.corrcoef(ilsr, reference)[0, 1]),
                "truth_corr": float(np.corrcoef(ours.scores, strength)[0, 1]),
            }
        )
        print(f"{n} items, {k} comparisons done", flush=True)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| items | comparisons | ours (s) | ILSR (s) | speed-up | corr(ours, MLE) | "
        "corr(ILSR, MLE) | corr(ours, truth) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['items']} | {r['comparisons']:,} | {r['ours_s']:.4f} | {r['ilsr_s']:.4f} | "
            f"{r['ilsr_s'] / r['ours_s']:.1f}× | {r['ours_corr']:.6f} | {r['ilsr_corr']:.6f} | "
            f"{r['truth_corr']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only up to 100k comparisons")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    grid = [g for g in GRID if not args.quick or g[1] <= 100_000]
    out = table(run(grid))
    print(out)
    if args.write:
        write_section(
            "Ranking speed",
            "Command: `python benchmarks/ranking_speed.py --write` (2 cores, numpy/OpenBLAS; "
            f"choix alpha={ALPHA}, our prior λ={2 * ALPHA}; MLE = ILSR at tol 1e-12)\n\n"
            + machine_line("float64 (numpy)")
            + "\n\n"
            + out,
        )


if __name__ == "__main__":
    main()
