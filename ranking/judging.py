"""Judge prompts and verdict extraction.

A judge reads the conversation and two anonymous answers, and the assistant's
reply is prefilled with `VERDICT_PREFIX`, so the very next token is the verdict.
The judge's P(first is better) is read from that one next-token distribution
(no generation beyond one token): the probability mass on the tokens "1" and
"2", renormalised over the two. Both backends build the same messages.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ranking.errors import RankingError

__all__ = [
    "VERDICT_PREFIX",
    "Verdict",
    "VerdictUnreadable",
    "judge_messages",
    "verdict_from_logprobs",
]

VERDICT_PREFIX = "The better answer is Answer "

_INSTRUCTIONS = (
    "You are a careful, impartial judge. Read the conversation and two candidate "
    "answers to its last message. Decide which answer is more helpful, correct and "
    "relevant. Ignore the order in which they are shown and their length. "
    "Reply with the number of the better answer: 1 or 2."
)


class VerdictUnreadable(RankingError, ValueError):
    """Neither verdict token was among the judge's top next tokens."""


@dataclass(frozen=True)
class Verdict:
    """P(first is better) and the probability mass the two verdict tokens held."""

    p_first: float
    mass: float


def judge_messages(
    conversation: Sequence[Mapping[str, str]], first: str, second: str
) -> list[dict[str, str]]:
    """Chat messages for judging `first` against `second`, ending in the prefill."""
    shown = "\n".join(f"[{m['role']}]: {m['content']}" for m in conversation)
    body = (
        f"{_INSTRUCTIONS}\n\n### Conversation\n{shown}\n\n"
        f"### Answer 1\n{first}\n\n### Answer 2\n{second}\n\n"
        "Which answer is better, 1 or 2?"
    )
    return [
        {"role": "user", "content": body},
        {"role": "assistant", "content": VERDICT_PREFIX},
    ]


def verdict_from_logprobs(top_logprobs: Mapping[str, float]) -> Verdict:
    """Read P(first is better) from the next token's top log-probabilities.

    Keys are decoded token texts; "1" and "2" (ignoring surrounding white space,
    summed over variants) are the verdict tokens.
    """
    p1 = sum(math.exp(lp) for tok, lp in top_logprobs.items() if tok.strip() == "1")
    p2 = sum(math.exp(lp) for tok, lp in top_logprobs.items() if tok.strip() == "2")
    if p1 + p2 <= 0.0:
        raise VerdictUnreadable("neither '1' nor '2' among the judge's top next tokens")
    return Verdict(p_first=p1 / (p1 + p2), mass=min(1.0, p1 + p2))
