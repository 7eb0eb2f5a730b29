"""Signed answers as verification claims, and the copy index from the consensus log."""

import json
from collections.abc import Iterator
from typing import Any

from node.protocol import AnnouncePayload, AnswerPayload, payload_of
from reputation.envelope import digest
from reputation.log import ConsensusLog
from verification.base import Claim
from verification.index import CopyIndex, IndexedAnswer
from verification.signatures import SignatureError, decode_signature, shingles

__all__ = ["claim_of", "find_announce", "load_copy_index"]


def claim_of(answer: dict[str, Any], announce: dict[str, Any]) -> Claim:
    """The claim a signed answer makes, with the prompt from its round's announcement."""
    payload = payload_of(AnswerPayload, answer)
    announced = payload_of(AnnouncePayload, announce)
    return Claim(
        key=digest(answer),
        node=str(answer["sender"]),
        round_id=str(answer["round_id"]),
        prompt_hash=payload.prompt_hash,
        messages=[m.model_dump() for m in announced.messages],
        text=payload.text,
        token_ids=payload.token_ids,
        model=payload.model,
        sampling=payload.sampling.model_dump(),
        signature=payload.signature,
    )


def find_announce(log: ConsensusLog, round_id: str) -> dict[str, Any] | None:
    for entry in log.entries(round_id):
        if entry.type == "announce":
            message: dict[str, Any] = json.loads(entry.raw)
            return message
    return None


def _logged_answers(log: ConsensusLog) -> Iterator[IndexedAnswer]:
    """Logged answers as index entries. Their signatures were checked against their texts
    when they were admitted; at start they are only read back."""
    for entry in log.entries():
        if entry.type != "answer":
            continue
        try:
            payload = payload_of(AnswerPayload, json.loads(entry.raw))
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
