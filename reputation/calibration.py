"""Proof-of-capability: scoring a node's replies to calibration challenges (pure).

A session (`node.serve.calibrate` on the attester's side, `node.calibration` on
the candidate's) draws `JUDGING` judging and `ANSWERING` answering challenges
from the bank (`reputation.bank`), seeded with the session id. The candidate
replies and the attester, which serves the same model, checks and scores:

- **Judging**: the two answers come in a seeded order; the candidate replies with
  each answer's mean token log-probability as the instruction's reply
  (teacher-forced, `MAX_ANSWER_TOKENS` at most), and prefers the higher. The
  attester computes the same two numbers with its own model: a reply off by more
  than `MEAN_TOLERANCE` nats per token fails the check (another model, or made-up
  numbers); the preference is right when it names the known better answer.
- **Answering**: the candidate answers greedily within `MAX_TOKENS` and sends its
  token ids; the teacher-forced check (`verification.teacher_forced`) must pass
  (so the text is what the registered model generates), and the answer is right
  when the last number it gives (a `\\boxed{}` one first) is the known result.

The score is the share of right results over both kinds, in basis points. A node
passes with at most `ALLOWED_CHECK_FAILURES` of its replies failing their check
and a score of at least `PASS_SCORE`, a threshold set from the distributions that
`benchmarks/calibration.py` measures: the real model against one that answers at
random, one that always says "1", and the model cut to 12 of its 30 layers.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "ALLOWED_CHECK_FAILURES",
    "ANSWERING",
    "JUDGING",
    "MAX_ANSWER_TOKENS",
    "MAX_TOKENS",
    "MEAN_TOLERANCE",
    "PASS_SCORE",
    "Scorecard",
    "answer_value",
    "mean_logprob",
    "means_agree",
]

JUDGING = 32
ANSWERING = 4
MAX_TOKENS = 128
"""Tokens an answering challenge may take (SmolLM2's step-by-step additions take 86 on
average)."""
MAX_ANSWER_TOKENS = 16
"""A judging challenge's answer is read on its first tokens only: they tie an answer to
its instruction best (SmolLM2 tells the right answer from a foreign one 0.88 of the
time on 16 tokens, 0.80 on 64 and 0.73 on 128), and they are cheap to prefill."""
MEAN_TOLERANCE = 0.05
"""Nats per token by which a reported mean log-probability may differ from the
attester's own (the same model on another machine or batch differs by far less)."""
ALLOWED_CHECK_FAILURES = 0.1
PASS_SCORE = 6400
"""Basis points. Measured over 2,000 sessions of 32 + 4 challenges drawn from the bank
(`benchmarks/calibration.py`): the real SmolLM2 scores 6667 at its 1st percentile;
with the checks ignored, a random node, one that always says "1" and the 12-layer cut
score at most 6111 at their 99th (with the checks, 0)."""


def mean_logprob(logprobs: Sequence[float]) -> float:
    """The mean token log-probability (0 for no tokens)."""
    return math.fsum(logprobs) / len(logprobs) if logprobs else 0.0


def means_agree(claimed: Sequence[float], own: Sequence[float]) -> bool:
    return len(claimed) == len(own) and all(
        math.isfinite(c) and abs(c - o) <= MEAN_TOLERANCE for c, o in zip(claimed, own, strict=True)
    )


def answer_value(text: str) -> str | None:
    """The answer a reply gives: its last `\\boxed{N}`, else its last integer."""
    boxed = re.findall(r"\\boxed\{\s*(-?\d+)\s*\}", text)
    if boxed:
        return boxed[-1]
    numbers = re.findall(r"-?\d+", text)
    return numbers[-1] if numbers else None


@dataclass
class Scorecard:
    judging_right: int = 0
    judging_total: int = 0
    answering_right: int = 0
    answering_total: int = 0
    check_failures: int = 0
    reasons: list[str] = field(default_factory=list)
    """The first few check failures, said plainly."""

    def judged(self, right: bool, checked: bool, reason: str = "") -> None:
        self.judging_total += 1
        self.judging_right += right and checked
        self._checked(checked, reason)

    def answered(self, right: bool, checked: bool, reason: str = "") -> None:
        self.answering_total += 1
        self.answering_right += right and checked
        self._checked(checked, reason)

    def _checked(self, checked: bool, reason: str) -> None:
        if not checked:
            self.check_failures += 1
            if len(self.reasons) < 5:
                self.reasons.append(reason)

    @property
    def total(self) -> int:
        return self.judging_total + self.answering_total

    @property
    def score(self) -> int:
        """Right results over all challenges, in basis points (a failed check is wrong)."""
        right = self.judging_right + self.answering_right
        return round(10_000 * right / self.total) if self.total else 0

    @property
    def checks_hold(self) -> bool:
        return self.check_failures <= ALLOWED_CHECK_FAILURES * self.total

    @property
    def passed(self) -> bool:
        return self.total > 0 and self.checks_hold and self.score >= PASS_SCORE
