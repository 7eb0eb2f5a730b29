"""An LSH index of recent answers, for copy and replay detection across rounds.

`CopyIndex` keeps the signatures of the last `capacity` answers in a datasketch
`MinHashLSH` (near-duplicates above `threshold` estimated Jaccard), with who
wrote each, for which round and which prompt. It lives in memory and is rebuilt
from the consensus log's answer messages at start (`rebuild`), inserting in
one `insertion_session`.

`conflicts` reads a new answer against the index. An earlier answer is a
conflict when it is near the new one and either

- another node wrote it (a copy), or
- it answered another prompt (a replay: an old text passed off as new work).

Two exceptions, because honest nodes produce them: answers too short to say
anything (fewer than `MIN_SHINGLES` shingles: "4", "Yes."), and identical greedy
answers to the same prompt (the same model decodes greedily to the same text,
so agreement is expected, not evidence).
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from datasketch import LeanMinHash, MinHashLSH

from verification.signatures import NUM_PERM, similarity

__all__ = ["COPY_THRESHOLD", "MIN_SHINGLES", "CopyIndex", "IndexedAnswer"]

COPY_THRESHOLD = 0.7
"""Estimated Jaccard above which two answers are near-copies (see benchmarks/RESULTS.md,
"Verification": honest answers by different nodes to one prompt stay below it)."""
MIN_SHINGLES = 8


@dataclass(frozen=True)
class IndexedAnswer:
    key: str
    """The answer message's digest."""
    node: str
    round_id: str
    prompt_hash: str
    greedy: bool
    shingles: int
    signature: LeanMinHash


class CopyIndex:
    def __init__(self, threshold: float = COPY_THRESHOLD, capacity: int = 10_000):
        self.threshold = threshold
        self.capacity = capacity
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        self._items: dict[str, IndexedAnswer] = {}
        self._order: deque[str] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: IndexedAnswer) -> None:
        if item.key in self._items:
            return
        self._lsh.insert(item.key, item.signature)
        self._remember(item)

    def rebuild(self, items: Iterable[IndexedAnswer]) -> int:
        """Replace the contents with `items` (oldest first); keeps the newest `capacity`."""
        latest: dict[str, IndexedAnswer] = {}
        for item in items:
            latest.setdefault(item.key, item)
        kept = list(latest.values())[-self.capacity :]
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)
        self._items.clear()
        self._order.clear()
        with self._lsh.insertion_session() as session:
            for item in kept:
                session.insert(item.key, item.signature)
                self._items[item.key] = item
                self._order.append(item.key)
        return len(kept)

    def _remember(self, item: IndexedAnswer) -> None:
        self._items[item.key] = item
        self._order.append(item.key)
        while len(self._order) > self.capacity:
            old = self._order.popleft()
            self._lsh.remove(old)
            del self._items[old]

    def near(self, sig: LeanMinHash) -> list[tuple[IndexedAnswer, float]]:
        """Indexed answers near `sig`, with their estimated similarity, most similar first."""
        found = [
            (self._items[k], similarity(sig, self._items[k].signature))
            for k in self._lsh.query(sig)
        ]
        found = [(item, s) for item, s in found if s >= self.threshold]
        return sorted(found, key=lambda pair: -pair[1])

    def conflicts(self, item: IndexedAnswer) -> list[tuple[IndexedAnswer, float, str]]:
        """Earlier answers that make `item` a copy or a replay: (answer, similarity, kind)."""
        if item.shingles < MIN_SHINGLES:
            return []
        out = []
        for other, sim in self.near(item.signature):
            if other.key == item.key or other.round_id == item.round_id:
                continue  # within a round, near-duplicates are grouped, not indexed conflicts
            if other.prompt_hash != item.prompt_hash:
                out.append((other, sim, "replay"))
            elif other.node != item.node and not (other.greedy and item.greedy):
                out.append((other, sim, "copy"))
        return out
