"""Grouping identical answers within a round into one candidate.

Two answers are identical when their normalised texts are equal: leading and
trailing white space removed and every run of white space folded to one space.
Case and punctuation count. (Near-identical answers, via MinHash LSH, are a
later, wider check; this is the exact one.)
"""

from collections.abc import Sequence

__all__ = ["group_identical", "normalize_answer"]


def normalize_answer(text: str) -> str:
    return " ".join(text.split())


def group_identical(texts: Sequence[str]) -> list[list[int]]:
    """Indices of `texts` grouped by normalised text, groups in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        groups.setdefault(normalize_answer(text), []).append(index)
    return list(groups.values())
