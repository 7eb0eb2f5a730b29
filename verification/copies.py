"""Copy and replay detection as a `Verifier`, reading a `CopyIndex`.

Score: the highest estimated Jaccard similarity with a conflicting earlier
answer (0 when there is none); passes when there is no conflict (see
`verification.index` for what counts as one).
"""

from verification.base import Claim, VerificationResult, signature_failure
from verification.index import CopyIndex, IndexedAnswer
from verification.signatures import decode_signature

__all__ = ["CopyVerifier", "indexed"]

METHOD = "copy"


def indexed(claim: Claim) -> IndexedAnswer:
    """The claim as an index entry. Reads the signature without re-hashing the text:
    callers have checked it (`Claim.lean`), or `CopyVerifier.verify` does."""
    return IndexedAnswer(
        key=claim.key,
        node=claim.node,
        round_id=claim.round_id,
        prompt_hash=claim.prompt_hash,
        greedy=claim.greedy,
        shingles=claim.shingle_count(),
        signature=decode_signature(claim.signature),
    )


class CopyVerifier:
    method = METHOD

    def __init__(self, index: CopyIndex):
        self.index = index

    async def verify(self, claim: Claim) -> VerificationResult:
        failed = signature_failure(self.method, claim)
        return failed or self.check(indexed(claim))

    def check(self, item: IndexedAnswer) -> VerificationResult:
        """The result for an entry whose signature is known to be its text's."""
        found = self.index.conflicts(item)
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
