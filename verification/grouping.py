"""Grouping a round's answers into candidates.

`group_identical`: answers whose normalised texts are equal (leading and
trailing white space removed, every run of white space folded to one space;
case and punctuation count).

`group_near`: also joins near-identical answers, those whose LSH signatures
estimate a Jaccard similarity of at least `GROUP_THRESHOLD` (a datasketch
`MinHashLSH` built for the round, then the union of all near pairs). A group's
first answer stands for it. Answers too short for their shingles to mean much
(fewer than `index.MIN_SHINGLES`) are only joined when identical.
"""

from collections.abc import Sequence

from datasketch import LeanMinHash, MinHashLSH

from verification.index import MIN_SHINGLES
from verification.signatures import NUM_PERM, similarity

__all__ = ["GROUP_THRESHOLD", "group_identical", "group_near", "normalize_answer"]

GROUP_THRESHOLD = 0.9


def normalize_answer(text: str) -> str:
    return " ".join(text.split())


def group_identical(texts: Sequence[str]) -> list[list[int]]:
    """Indices of `texts` grouped by normalised text, groups in first-seen order."""
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        groups.setdefault(normalize_answer(text), []).append(index)
    return list(groups.values())


def group_near(
    texts: Sequence[str],
    sigs: Sequence[LeanMinHash],
    sizes: Sequence[int],
    threshold: float = GROUP_THRESHOLD,
) -> list[list[int]]:
    """Indices grouped by identity or near-identity (`sizes`: each text's shingle count)."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    for group in group_identical(texts):
        for other in group[1:]:
            join(group[0], other)
    long = [i for i in range(len(texts)) if sizes[i] >= MIN_SHINGLES]
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for i in long:
            session.insert(i, sigs[i])
    for i in long:
        for j in lsh.query(sigs[i]):
            if j != i and similarity(sigs[i], sigs[j]) >= threshold:
                join(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())
