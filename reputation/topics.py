"""Inferred topics: a prompt with no client-named category gets the topic of the
nearest cluster of past prompts (pure; numpy and scipy).

A prompt becomes a bag of its lower-cased words and word pairs, hashed (blake2b,
so the same on every machine and run) into `DIMENSIONS` buckets, weighted by
TF-IDF over the prompts fitted and scaled to unit length. Topics are a seeded
spherical k-means (scipy's `kmeans2` with k-means++ starts, on unit vectors) of
those vectors, the tightest of `STARTS` runs; a new prompt goes to the centroid
with the highest cosine.

Why not the answers' MinHash signatures: they describe the answer's text for copy
detection, and a topic is about the question. Why not a sentence-embedding model:
none ships on PyPI for this machine's closed network, and word statistics already
separate the kinds of questions that matter to judges (arithmetic in base 9,
negated instructions, open-ended chat), as `swarm eval judges --pairs` measures.

`default_topics(n)` is the number of clusters for n past prompts, about
sqrt(n / 8), so that a topic holds some eight times as many prompts as there are
topics (enough history per topic for `reputation.rules.shrink` to matter).
"""

import hashlib
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.cluster.vq import kmeans2

__all__ = ["DIMENSIONS", "TopicModel", "default_topics"]

DIMENSIONS = 4096
STARTS = 5
WORD = re.compile(r"[a-z0-9]+")


def default_topics(n: int) -> int:
    return max(1, round(math.sqrt(n / 8)))


def _buckets(text: str) -> list[int]:
    words = WORD.findall(text.lower())
    terms = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
    return [
        int.from_bytes(hashlib.blake2b(t.encode(), digest_size=4).digest(), "big") % DIMENSIONS
        for t in terms
    ]


def _counts(texts: Sequence[str]) -> NDArray[np.float64]:
    out = np.zeros((len(texts), DIMENSIONS))
    for i, text in enumerate(texts):
        np.add.at(out[i], _buckets(text), 1.0)
    return out


def _unit(m: NDArray[np.float64]) -> NDArray[np.float64]:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    out: NDArray[np.float64] = m / np.where(norms > 0, norms, 1.0)
    return out


@dataclass(frozen=True)
class TopicModel:
    idf: NDArray[np.float64]
    centroids: NDArray[np.float64]

    @classmethod
    def fit(cls, texts: Sequence[str], k: int | None = None, seed: int = 0) -> "TopicModel":
        """Cluster `texts` (past prompts) into `k` topics (default `default_topics`)."""
        if not texts:
            raise ValueError("topics need at least one prompt to learn from")
        k = min(k or default_topics(len(texts)), len(texts))
        counts = _counts(texts)
        seen = (counts > 0).sum(axis=0)
        idf = np.log((1 + len(texts)) / (1 + seen)) + 1.0
        vectors = _unit(np.log1p(counts) * idf)
        best, spread = None, np.inf
        for start in range(STARTS):  # k-means++ from several seeds; the tightest wins
            centroids, labels = kmeans2(vectors, k, minit="++", seed=seed * STARTS + start)
            distortion = float(((vectors - centroids[labels]) ** 2).sum())
            if distortion < spread:
                best, spread = centroids, distortion
        assert best is not None
        return cls(idf, _unit(best))

    def vectors(self, texts: Sequence[str]) -> NDArray[np.float64]:
        return _unit(np.log1p(_counts(texts)) * self.idf)

    def assign(self, texts: Sequence[str]) -> NDArray[np.intp]:
        """Each text's topic: the centroid with the highest cosine."""
        out: NDArray[np.intp] = (self.vectors(texts) @ self.centroids.T).argmax(axis=1)
        return out

    @property
    def size(self) -> int:
        return int(self.centroids.shape[0])
