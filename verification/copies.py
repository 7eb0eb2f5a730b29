"""Copy and replay detection as a `Verifier`, reading a `CopyIndex`.

Score: the highest estimated Jaccard similarity with a conflicting earlier
answer (0 when there is none); passes when there is no conflict (see
`verification.index` for what counts as one).
"""

from verification.base import Claim, VerificationResult, signature_failure
from verification.index import CopyIndex, IndexedAnswer

__all__ = ["CopyVerifier", "indexed"]

METHOD = "copy"


def indexed(claim: Claim) -> IndexedAnswer:
    return IndexedAnswer(
        key=claim.key,
        node=claim.node,
        round_id=claim.round_id,
        prompt_hash=claim.prompt_hash,
        greedy=claim.greedy,
        shingles=claim.shingle_count(),
        signature=claim.lean(),
    )


class CopyVerifier:
    method = METHOD

    def __init__(self, index: CopyIndex):
        self.index = index

    async def verify(self, claim: Claim) -> VerificationResult:
        failed = signature_failure(self.method, claim)
        if failed:
            return failed
        found = self.index.conflicts(indexed(claim))
        if not found:
            return VerificationResult(self.method, True, 0.0, {})
        other, sim, kind = found[0]
        return VerificationResult(
            self.method,
            False,
            sim,
            {
                "kind": kind,
                "of": other.key,
                "of_node": other.node,
                "of_round": other.round_id,
                "conflicts": len(found),
            },
        )
