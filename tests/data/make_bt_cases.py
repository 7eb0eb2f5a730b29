"""Regenerate tests/data/bt_cases.json from choix (run by hand; the file is committed).

Each case: hard pairwise outcomes with unit weights, fitted by choix.opt_pairwise
with `alpha`; our fit uses prior precision λ = 2·alpha (see ranking/bt.py).
"""

import json
from pathlib import Path

import choix
import numpy as np

CASES = [
    ("three items, a clear order", 3, [(0, 1), (0, 1), (1, 0), (1, 2), (1, 2), (0, 2)], 0.01),
    ("one item wins everything: the prior keeps it finite", 3, [(0, 1), (0, 2), (0, 1)], 0.05),
    (
        "cycle with ties broken by counts",
        4,
        [(0, 1), (1, 2), (2, 3), (3, 0), (0, 1), (2, 1), (0, 2)],
        0.01,
    ),
]


def main() -> None:
    rng = np.random.default_rng(7)
    strengths = rng.normal(size=12)
    random_pairs = []
    for _ in range(400):
        i, j = rng.choice(12, size=2, replace=False)
        p = 1 / (1 + np.exp(strengths[j] - strengths[i]))
        random_pairs.append((int(i), int(j)) if rng.random() < p else (int(j), int(i)))
    cases = [
        *CASES,
        ("12 items, 400 comparisons drawn from planted strengths", 12, random_pairs, 0.001),
    ]
    out = []
    for desc, n, data, alpha in cases:
        scores = choix.opt_pairwise(n, data, alpha=alpha, tol=1e-12)
        out.append(
            {
                "desc": desc,
                "n_items": n,
                "winner_loser": data,
                "choix_alpha": alpha,
                "scores": [round(float(s), 9) for s in scores - scores.mean()],
            }
        )
    Path(__file__).with_name("bt_cases.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
