"""Re-execution (as in *Generative AI Consensus in a Trustless Network*): the
verifier generates the answer again and compares LSH signatures with the claim.

A greedy claim is regenerated greedily; a sampled claim with its declared
temperature, top_p and seed, which reproduces it on the same model. The score
is the estimated Jaccard similarity of the two texts' shingles; the claim
passes at `REEXEC_THRESHOLD` or above (from the measured distributions, see
benchmarks/RESULTS.md, "Verification"). The swarm asks up to three verifiers
and takes the majority (`verification.base.majority`).
"""

from collections.abc import Awaitable, Callable

from verification.base import Claim, VerificationResult, signature_failure
from verification.signatures import signature, similarity

__all__ = ["REEXEC_THRESHOLD", "ReexecutionVerifier"]

REEXEC_THRESHOLD = 0.6
METHOD = "reexecution"

Regenerate = Callable[[Claim], Awaitable[str]]


class ReexecutionVerifier:
    method = METHOD

    def __init__(self, regenerate: Regenerate, threshold: float = REEXEC_THRESHOLD):
        self._regenerate = regenerate
        self.threshold = threshold

    async def verify(self, claim: Claim) -> VerificationResult:
        failed = signature_failure(self.method, claim)
        if failed:
            return failed
        again = await self._regenerate(claim)
        score = similarity(claim.lean(), signature(again))
        return VerificationResult(
            self.method,
            score >= self.threshold,
            score,
            {
                "threshold": self.threshold,
                "regenerated_chars": len(again),
                "exact": again == claim.text,
            },
        )
