"""Calibration splits: where reputation comes from in an evaluation.

Reputation (answering accuracy, judging agreement) is measured on a calibration
split whose gold labels are then never used for scoring. The items are split,
within each category, into R folds of equal size (seeded shuffle); in rotation
r fold r is the calibration split (1/R of the items) and the other folds are
scored. Every item is scored in R − 1 rotations, never with its own label in
view, and an accuracy is the mean over rotations. This mirrors the protocol's
proof-of-capability step, where a node earns its starting reputation on
calibration requests with known answers (DESIGN.md, "Reputation").
"""

from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.tables import InvalidTable

__all__ = [
    "DEFAULT_ROTATIONS",
    "calibration_folds",
    "calibration_note",
    "rotations",
    "smoothed_rate",
]

DEFAULT_ROTATIONS = 5


def calibration_folds(category: ArrayLike, n_rotations: int, seed: int) -> NDArray[np.intp]:
    """Fold number per item, balanced within each category."""
    cat = np.asarray(category, dtype=np.intp)
    if n_rotations < 2:
        raise InvalidTable("need at least 2 rotations (one calibration fold, one scored)")
    if cat.size < n_rotations:
        raise InvalidTable(f"need at least {n_rotations} items for {n_rotations} rotations")
    rng = np.random.default_rng(seed)
    fold = np.empty(cat.size, dtype=np.intp)
    offset = 0
    for c in np.unique(cat):
        idx = np.flatnonzero(cat == c)
        fold[rng.permutation(idx)] = (offset + np.arange(idx.size)) % n_rotations
        offset += idx.size  # carries the remainder over, so folds stay balanced overall
    return fold


def rotations(
    category: ArrayLike, n_rotations: int, seed: int
) -> Iterator[tuple[NDArray[np.bool_], NDArray[np.bool_]]]:
    """(calibration mask, scored mask) for each rotation."""
    fold = calibration_folds(category, n_rotations, seed)
    for r in range(n_rotations):
        yield fold == r, fold != r


def smoothed_rate(hits: ArrayLike, total: ArrayLike) -> NDArray[np.float64]:
    """(hits + 1) / (total + 2): a success rate that is defined without data."""
    out: NDArray[np.float64] = (np.asarray(hits, float) + 1.0) / (np.asarray(total, float) + 2.0)
    return out


def calibration_note(n_rotations: int, seed: int) -> dict[str, object]:
    """How reputation was obtained, for a report."""
    return {
        "fraction": round(1 / n_rotations, 4),
        "rotations": n_rotations,
        "seed": seed,
        "how": (
            "items split per category into folds; each rotation takes one fold's gold "
            "labels as the calibration split for reputation and scores the others; "
            "accuracy is the mean over rotations"
        ),
    }
