"""The one interface every check implements, and what it reads and returns.

A `Claim` is a signed answer as a verifier sees it: the prompt, the text, the
token ids, the model, the declared sampling and the LSH signature, plus who
made it for which round. A `Verifier` turns a claim into a
`VerificationResult`: passed, a score (each method documents its scale and
threshold) and evidence (JSON-ready, goes into the log and the reply).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from datasketch import LeanMinHash

from verification.signatures import SignatureError, decode_signature, shingles, signature

__all__ = ["Claim", "VerificationResult", "Verifier", "majority"]


@dataclass(frozen=True)
class Claim:
    key: str
    """Digest of the signed answer message."""
    node: str
    round_id: str
    prompt_hash: str
    messages: Sequence[Mapping[str, str]]
    text: str
    token_ids: Sequence[int]
    model: str
    sampling: Mapping[str, Any]
    """temperature, top_p, seed, max_tokens as signed."""
    signature: str
    """Hex of the serialized LeanMinHash of `text`."""

    @property
    def greedy(self) -> bool:
        return float(self.sampling["temperature"]) == 0.0

    def lean(self) -> LeanMinHash:
        """The claimed signature, checked against the text. `SignatureError` if it is
        malformed or is not the signature of this text."""
        claimed = decode_signature(self.signature)
        if not (claimed.hashvalues == signature(self.text).hashvalues).all():
            raise SignatureError("the LSH signature is not the signature of the answer's text")
        return claimed

    def shingle_count(self) -> int:
        return len(shingles(self.text))


@dataclass(frozen=True)
class VerificationResult:
    method: str
    passed: bool
    score: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "passed": self.passed,
            "score": round(self.score, 6),
            "evidence": self.evidence,
        }


class Verifier(Protocol):
    method: str

    async def verify(self, claim: Claim) -> VerificationResult: ...


def signature_failure(method: str, claim: Claim) -> VerificationResult | None:
    """A failed result if the claim's signature is malformed or not its text's; else None."""
    try:
        claim.lean()
    except SignatureError as exc:
        return VerificationResult(method, False, 0.0, {"reason": str(exc)})
    return None


def majority(votes: Sequence[bool]) -> bool | None:
    """The verdict of several verifiers: passed when more pass than fail (a tie fails);
    None when nobody voted."""
    if not votes:
        return None
    passes = sum(votes)
    return passes > len(votes) - passes
