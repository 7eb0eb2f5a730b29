"""What an audit finds: one `Finding` per discrepancy, naming the check, the round and
the log entry it concerns."""

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["CHECKS", "Finding"]

CHECKS = {
    "columns": "every column of every row has the type the node writes (UTF-8 text, numbers)",
    "hash_chain": "each entry's digest, and its link to the entry before",
    "signature": "each message is signed by its sender, and the log's columns match it",
    "registration": "each sender was a registered node when it signed",
    "round_id": "the round id is the keccak of the request, the coordinator and the nonce",
    "draw": "participants, pairs, judges and verifiers follow the round id's seed",
    "weights": "the announced draw weights are the stake and reputation on chain then",
    "topic": "the inferred topic is the cluster of the node's past prompts",
    "answers": "the answers are for the announcement, from its participants, as the result says",
    "candidates": "the candidates group the round's answers as their texts say",
    "verdicts": "each judge's verdicts answer its request, one per task",
    "records": "the judges' records are those the log's earlier results give",
    "ranking": "scores, intervals and judges' reliability refit from the logged verdicts",
    "verification": "each outcome is the majority of its verifiers' logged votes",
    "winner": "the winner is the best candidate that did not fail verification",
    "merkle": "each round's result is a leaf of its batch, whose root the log holds",
    "root": "each batch's root is the root committed on chain",
    "settlement": "each batch's reputation changes and slashes follow from its results",
    "reputation": "each reputation change on chain is one the log justifies",
}
"""Every check an audit makes, with what it asserts."""


@dataclass(frozen=True)
class Finding:
    check: str
    """A key of `CHECKS`."""
    message: str
    round_id: str | None = None
    seq: int | None = None
    """The log entry the finding concerns, if one."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        where = [f"round {self.round_id}"] if self.round_id else []
        where += [f"entry {self.seq}"] if self.seq is not None else []
        return f"[{self.check}] {', '.join(where) + ': ' if where else ''}{self.message}"
