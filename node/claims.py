"""Signed answers as verification claims; what makes a claim impossible; the copy index
rebuilt from the consensus log.

`claim_defect` is the one check, shared by the coordinator's admission of answers
(phase 2) and a verifier's refusal (phase 6), of what no honest node serving the
round's model could have sent: another model's name, token ids outside the
model's vocabulary, more tokens than its declared `max_tokens`, a declared
`max_tokens` above the round's, or a text longer than its token ids can decode
to (`MAX_CHARS_PER_TOKEN` each: this bounds the hashing and prefill work any
answer can cause, whatever its sender says). An answer with a defect never enters a round
(so it cannot make every verifier fail to check it); a verifier asked about one
refuses the claim with a signed refusal, which counts as a failed vote.
"""

from collections.abc import Iterator
from typing import Any

from reputation.envelope import digest
from reputation.log import ConsensusLog
from reputation.messages import AnnouncePayload, AnswerPayload, payload_of
from verification.base import Claim
from verification.index import CopyIndex, IndexedAnswer
from verification.signatures import SignatureError, decode_signature, shingles

__all__ = ["MAX_CHARS_PER_TOKEN", "claim_defect", "claim_of", "load_copy_index"]

MAX_CHARS_PER_TOKEN = 256
"""The most characters one token id decodes to in any vocabulary a node serves
(SmolLM2's longest token is 81 characters; common BPE vocabularies stay under 256)."""


def claim_of(answer: dict[str, Any], announce: dict[str, Any]) -> Claim:
    """The claim a signed answer makes, with the prompt from its round's announcement."""
    payload = payload_of(AnswerPayload, answer)
    announced = payload_of(AnnouncePayload, announce)
    return Claim(
        key=digest(answer),
        node=str(answer["sender"]),
        round_id=str(answer["round_id"]),
        prompt_hash=payload.prompt_hash,
        messages=announced.chat(),
        text=payload.text,
        token_ids=payload.token_ids,
        model=payload.model,
        sampling=payload.sampling.model_dump(),
        signature=payload.signature,
    )


def claim_defect(
    answer: AnswerPayload, model: str, vocab_size: int, max_tokens: int
) -> tuple[str, str] | None:
    """(code, reason) if no honest node serving `model` could have made `answer` in a
    round that allows `max_tokens` tokens."""
    if answer.model != model:
        return (
            "model_mismatch",
            f"the answer claims model {answer.model!r}; the round's is {model!r}",
        )
    if answer.sampling.max_tokens > max_tokens:
        return (
            "too_many_tokens",
            f"the answer declares max_tokens {answer.sampling.max_tokens}; "
            f"the round allows {max_tokens}",
        )
    if len(answer.token_ids) > answer.sampling.max_tokens:
        return (
            "too_many_tokens",
            f"{len(answer.token_ids)} token ids; the answer declares max_tokens "
            f"{answer.sampling.max_tokens}",
        )
    if len(answer.text) > MAX_CHARS_PER_TOKEN * len(answer.token_ids):
        return (
            "text_too_long",
            f"a text of {len(answer.text)} characters from {len(answer.token_ids)} token ids "
            f"(at most {MAX_CHARS_PER_TOKEN} characters a token)",
        )
    outside = [t for t in answer.token_ids if not 0 <= t < vocab_size]
    if outside:
        return (
            "invalid_token_ids",
            f"{len(outside)} token id(s) outside the vocabulary 0..{vocab_size - 1} "
            f"(first: {outside[0]})",
        )
    return None


def _logged_answers(log: ConsensusLog) -> Iterator[IndexedAnswer]:
    """Logged answers as index entries. Their signatures were checked against their texts
    when they were admitted; at start they are only read back."""
    for entry in log.entries():
        if entry.type != "answer":
            continue
        try:
            payload = payload_of(AnswerPayload, entry.message())
            sig = decode_signature(payload.signature)
        except (SignatureError, ValueError):  # answers the coordinator refused are logged too
            continue
        yield IndexedAnswer(
            key=entry.message_digest,
            node=entry.sender,
            round_id=str(entry.round_id),
            prompt_hash=payload.prompt_hash,
            greedy=payload.sampling.temperature == 0.0,
            shingles=len(shingles(payload.text)),
            signature=sig,
        )


def load_copy_index(log: ConsensusLog, capacity: int) -> CopyIndex:
    """The LSH index of the log's latest `capacity` answers (oldest first)."""
    index = CopyIndex(capacity=capacity)
    index.rebuild(_logged_answers(log))
    return index
