"""The typed values the phases of a round hand to each other.

1 `draw_and_announce` → `Announced`; 2 `answering` → list of `Answer`;
3 `check_copies` → `Candidates`; 4 `judging` → `Judgments`; 5 `rank` → `Ranked`;
6 `verifying` → `Verified`; 7 `settle` → `Settled` (whose `reply` is phase 8's
`swarm` object).
"""

from dataclasses import dataclass, field
from typing import Any

from ranking.consensus import JudgeRecord
from reputation.aggregate import Comparison, Ranked
from reputation.messages import AnswerPayload
from reputation.result import CopyFlag, DecidedBy, SwarmReply, VerificationOutcome
from verification.base import Claim

__all__ = [
    "Announced",
    "Answer",
    "Candidate",
    "Candidates",
    "Comparison",
    "Judgments",
    "Ranked",
    "Settled",
    "Verified",
]


@dataclass(frozen=True)
class Announced:
    """Phase 1: the round's id, its participants and the signed announcement."""

    round_id: str
    messages: list[dict[str, str]]
    max_tokens: int
    model: str
    participants: list[str]
    message: dict[str, Any]
    """The signed announcement."""
    digest: str
    prompt_hash: str
    topic: str = ""
    topic_source: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    """Each eligible node's weight in the draws, as announced."""
    records: dict[str, JudgeRecord] = field(default_factory=dict)
    """The judges' records in the round's topic when it was announced."""


@dataclass(frozen=True)
class Answer:
    """Phase 2: a signed answer that passed admission."""

    node: str
    message: dict[str, Any]
    payload: AnswerPayload
    claim: Claim
    digest: str


@dataclass(frozen=True)
class Candidate:
    """Phase 3: one distinct (or near-identical) answer and everyone who gave it."""

    index: int
    answer: Answer
    """The group's first answer, which stands for it."""
    authors: list[str]
    answers: list[str]
    """Digests of every signed answer in the group."""
    digest: str
    """`text_digest` of the text."""

    @property
    def text(self) -> str:
        return self.answer.payload.text


@dataclass(frozen=True)
class Candidates:
    candidates: list[Candidate]
    flags: list[CopyFlag] = field(default_factory=list)

    @property
    def flagged(self) -> frozenset[str]:
        """Digests of the answers flagged as copies or replays."""
        return frozenset(f.answer for f in self.flags)


@dataclass(frozen=True)
class Judgments:
    """Phase 4: the verdicts, and whether any judge could rank the round."""

    comparisons: list[Comparison]
    decided_by: DecidedBy


@dataclass(frozen=True)
class Verified:
    """Phase 6: the winner after verification, and every outcome."""

    winner: int
    outcomes: list[VerificationOutcome]


@dataclass(frozen=True)
class Settled:
    """Phase 7: the signed result's reply object and the winning text."""

    reply: SwarmReply
    text: str
    finish_reason: str
