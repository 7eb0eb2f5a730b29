"""The teacher-forced check: one prefill of the claimed token ids.

The verifier's model reads prompt + claimed tokens in one forward pass and
returns, for every claimed token, its log-probability, its rank and the
log-probabilities of the 20 most likely tokens at that position (`TokenScore`;
the backends ask vLLM for `prompt_logprobs=20`, which carries exactly these and
costs 0.153 s against 0.136 s for the top one alone: benchmarks/RESULTS.md,
"Prompt logprobs cost"). The check then reads:

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
evidence of a sampled claim also carries `gap_excess` and `gap_limit`
(`verification.sampling`: how much further from the argmax its tokens sit than
honest samples at its temperature would, and the limit honest samples stay
within), which `verification.policy` reads when re-execution disagrees, and
`mean_gap`, the mean of −(lp − top), for reading.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from verification.base import Claim, VerificationResult, signature_failure
from verification.sampling import excess, moments

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
    top: tuple[float, ...] = ()
    """The K highest log-probabilities at the position (K = 20 from the backends); what
    `verification.sampling` reads. Empty when unknown: then no sampling excess is read."""

    @classmethod
    def of(
        cls, logprob: float, rank: int, ranked: Sequence[tuple[int, float]], k: int
    ) -> "TokenScore":
        """From a backend's (rank, logprob) entries at the position: the top k and the
        claimed token, which may be beyond them."""
        top = tuple(sorted((lp for r, lp in ranked if r <= k), reverse=True))
        return cls(logprob, rank, max(lp for _, lp in ranked), top)


@dataclass(frozen=True)
class Forced:
    """What one prefill of the claimed tokens gives: their decoded text and scores."""

    text: str
    scores: list[TokenScore]
    stopped: bool
    """The tokens end with one of the model's end-of-sequence tokens."""
    vocab: int = 0
    """The verifier's vocabulary size (bounds the mass beyond the top K above T 1)."""


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
            **_sampling_excess(sampling, forced, [-r for r in ratios]),
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


def _sampling_excess(
    sampling: Mapping[str, float], forced: Forced, gaps: list[float]
) -> dict[str, float]:
    temperature = float(sampling["temperature"])
    if temperature == 0.0 or not gaps or not all(s.top for s in forced.scores):
        return {}
    top_p = float(sampling.get("top_p", 1.0))
    at = [moments(s.top, temperature, top_p, forced.vocab) for s in forced.scores]
    found = excess(gaps, at)
    return {"gap_excess": round(found.excess, 4), "gap_limit": round(found.limit, 4)}


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
