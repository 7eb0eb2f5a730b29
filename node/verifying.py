"""A verifier's side of phase 6: check one signed answer (`POST /swarm/v1/verify`).

The request carries the signed answer, the round's signed announcement (or the
verifier finds it in its own log) and the methods to run. Before any work the
verifier refuses, with a 4xx in the one error shape: an answer or announcement
whose signature does not recover, an answer of another round or announcement,
a round it cannot find (404 `unknown_round`), an answer made with another model
(400 `model_mismatch`) and an LSH signature that cannot be read (400
`invalid_lsh_signature`). An LSH signature that reads but is not the text's is
a dishonest claim, not a malformed request: the checks fail it.

Methods: `teacher_forced` (one prefill of the claimed ids) and `reexecution`
(regenerate with the claim's own sampling and compare LSH signatures).
"""

from collections.abc import Sequence
from typing import Any

from node.claims import claim_of, find_announce
from node.errors import BadRequest, NotFound
from node.inference.base import Backend, SamplingSpec
from node.participant import accept_message
from node.protocol import AnswerPayload, VerificationPayload, VerifyRequestPayload, payload_of
from node.state import NodeContext
from reputation.envelope import digest, recover_sender, sign_envelope
from verification.base import Claim, VerificationResult, Verifier
from verification.reexecution import ReexecutionVerifier
from verification.signatures import SignatureError, decode_signature
from verification.teacher_forced import TeacherForcedVerifier

__all__ = ["check_claim", "require_model", "serve_verify", "verifiers_for"]


def verifiers_for(backend: Backend) -> dict[str, Verifier]:
    async def regenerate(claim: Claim) -> str:
        return (await backend.generate(claim.messages, SamplingSpec.of(claim.sampling))).text

    return {
        "teacher_forced": TeacherForcedVerifier(backend.teacher_force),
        "reexecution": ReexecutionVerifier(regenerate),
    }


def require_model(claimed: str, backend: Backend) -> None:
    if claimed != backend.model_id:
        raise BadRequest(
            f"the answer claims model {claimed!r}; this verifier serves {backend.model_id!r}",
            code="model_mismatch",
        )


async def check_claim(
    backend: Backend, claim: Claim, methods: Sequence[str]
) -> list[VerificationResult]:
    verifiers = verifiers_for(backend)
    return [await verifiers[m].verify(claim) for m in methods]


def _signed(message: Any, kind: str, round_id: str) -> None:
    if not isinstance(message, dict) or message.get("type") != kind:
        raise BadRequest(f"verify request: expected a signed '{kind}' message")
    recover_sender(message)  # InvalidSignature → 401
    if message.get("round_id") != round_id:
        raise BadRequest(f"verify request: the {kind} belongs to another round")


async def serve_verify(ctx: NodeContext, message: Any) -> dict[str, Any]:
    accept_message(ctx, message, "verify_request")
    request = payload_of(VerifyRequestPayload, message)
    round_id = str(message["round_id"])
    _signed(request.answer, "answer", round_id)
    if request.subject != digest(request.answer):
        raise BadRequest("verify request: subject is not the answer's digest")
    announce = request.announce
    if announce is None:
        announce = find_announce(ctx.log, round_id)
        if announce is None:
            raise NotFound(
                f"unknown round {round_id}: no announcement sent or logged", code="unknown_round"
            )
    _signed(announce, "announce", round_id)
    answer = payload_of(AnswerPayload, request.answer)
    if answer.announce != digest(announce):
        raise BadRequest("verify request: the answer is for another announcement")
    require_model(answer.model, ctx.backend)
    try:
        decode_signature(answer.signature)
    except SignatureError as exc:
        raise BadRequest(str(exc), code="invalid_lsh_signature") from exc
    ctx.log.append(message)
    results = await check_claim(ctx.backend, claim_of(request.answer, announce), request.methods)
    payload = VerificationPayload.model_validate(
        {
            "subject": request.subject,
            "model": ctx.backend.model_id,
            "results": [r.as_dict() for r in results],
        }
    )
    reply = sign_envelope(ctx.account, "verification", round_id, payload.model_dump())
    ctx.log.append(reply)
    ctx.metrics.served.labels("verify").inc()
    return reply
