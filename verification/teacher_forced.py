"""The teacher-forced check: one prefill of the claimed token ids.

The verifier's model reads prompt + claimed tokens in one forward pass and
returns, for every claimed token, its log-probability, its rank and the
log-probability of the most likely token at that position (`TokenScore`; the
backends ask vLLM for `prompt_logprobs=1`, which carries exactly these). The
check then reads:

- the text: the claimed token ids must decode to the claimed text;
- the length: no more tokens than the declared `max_tokens`, and an answer
  that stops short of it must end with an end-of-sequence token (a text cut
  short is either unfinished at `max_tokens` or ends where the model stopped);
- every token's log-ratio to the argmax, lp − top (0 when the token was the
  most likely one). The claim's score is the worst of them. A greedy claim
  passes when score ≥ −`GREEDY_TOLERANCE` (every token was the argmax up to a
  near-tie); a sampled claim at temperature T when score ≥ −`SAMPLED_TOLERANCE`·T
  (no token far outside what tempered, nucleus sampling draws).

The tolerances come from the measured honest and dishonest score distributions
of `benchmarks/verification.py` (see benchmarks/RESULTS.md, "Verification"). The
evidence also carries `mean_gap`, the mean of −(lp − top) over the tokens, which
`verification.policy` reads when re-execution disagrees.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from verification.base import Claim, VerificationResult, signature_failure

__all__ = [
    "GREEDY_TOLERANCE",
    "SAMPLED_TOLERANCE",
    "SHAPE_FAILURE",
    "Forced",
    "TeacherForcedVerifier",
    "TokenScore",
    "assess",
]

SHAPE_FAILURE = -1e6
"""The score of a claim that fails before any token is read (text, length): finite, so
that it travels in signed JSON."""
GREEDY_TOLERANCE = 0.6
"""Nats. Honest greedy answers (500 LLMBar prompts) stayed within 0.31 of the argmax in
bf16 (near-ties at bf16's logit resolution) and within 0.5 when made in float32."""
SAMPLED_TOLERANCE = 10.0
"""Nats per unit of temperature. Honest answers sampled at T 0.7 stayed within 5.2 (of the
7 allowed at that temperature); substituted models and foreign texts mostly fall beyond."""
METHOD = "teacher_forced"


@dataclass(frozen=True)
class TokenScore:
    logprob: float
    rank: int
    top_logprob: float


@dataclass(frozen=True)
class Forced:
    """What one prefill of the claimed tokens gives: their decoded text and scores."""

    text: str
    scores: list[TokenScore]
    stopped: bool
    """The tokens end with one of the model's end-of-sequence tokens."""


def tolerance(temperature: float) -> float:
    return GREEDY_TOLERANCE if temperature == 0.0 else SAMPLED_TOLERANCE * temperature


def same_text(decoded: str, claimed: str) -> bool:
    """The decoded ids read as the claimed text. A generation cut at max_tokens can end
    inside a UTF-8 character: vLLM's streaming detokenizer holds back the partial bytes
    (and the white space before them), while a full decode shows U+FFFD."""
    if decoded == claimed:
        return True
    cut = decoded.endswith("\ufffd")
    return cut and decoded.rstrip("\ufffd").rstrip() == claimed.rstrip("\ufffd").rstrip()


def assess(claim_text: str, sampling: Mapping[str, float], forced: Forced) -> VerificationResult:
    """The verdict on one claim from its prefill (pure)."""
    if not same_text(forced.text, claim_text):
        return VerificationResult(
            METHOD,
            False,
            SHAPE_FAILURE,
            {"reason": "text differs from its token ids", "decoded_chars": len(forced.text)},
        )
    if len(forced.scores) > int(sampling["max_tokens"]):
        return VerificationResult(
            METHOD,
            False,
            SHAPE_FAILURE,
            {"reason": f"{len(forced.scores)} tokens, over max_tokens {sampling['max_tokens']}"},
        )
    if len(forced.scores) < int(sampling["max_tokens"]) and not forced.stopped:
        return VerificationResult(
            METHOD,
            False,
            SHAPE_FAILURE,
            {"reason": "fewer tokens than max_tokens and no end-of-sequence token: cut short"},
        )
    ratios = [s.logprob - s.top_logprob for s in forced.scores]
    worst = min(range(len(ratios)), key=ratios.__getitem__)
    limit = tolerance(float(sampling["temperature"]))
    beyond = sum(r < -limit for r in ratios)
    not_top = sum(s.rank > 1 for s in forced.scores)
    return VerificationResult(
        METHOD,
        beyond == 0,
        ratios[worst],
        {
            "tokens": len(ratios),
            "beyond_tolerance": beyond,
            "tolerance": limit,
            "not_top": not_top,
            "mean_gap": round(-sum(ratios) / len(ratios), 4),
            "worst": {
                "position": worst,
                "logprob": round(forced.scores[worst].logprob, 4),
                "rank": forced.scores[worst].rank,
                "top_logprob": round(forced.scores[worst].top_logprob, 4),
            },
        },
    )


Prefill = Callable[[Sequence[Mapping[str, str]], Sequence[int]], Awaitable[Forced]]


class TeacherForcedVerifier:
    method = METHOD

    def __init__(self, prefill: Prefill):
        self._prefill = prefill

    async def verify(self, claim: Claim) -> VerificationResult:
        failed = signature_failure(self.method, claim)
        if failed:
            return failed
        forced = await self._prefill(claim.messages, claim.token_ids)
        return assess(claim.text, claim.sampling, forced)
