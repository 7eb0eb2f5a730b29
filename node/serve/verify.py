"""Phase 6, the participant's side: check one signed answer (`POST /swarm/v1/verify`).

The request carries the signed answer, the round's signed announcement (or the
verifier finds it in its own log) and the methods to run. Before any work the
verifier refuses, with a 4xx in the one error shape:

- a malformed request: a subject that is not the answer's digest, an answer of
  another round or announcement, an announcement whose signature does not
  recover (401) or whose round id does not derive from its sender, a round it
  cannot find (404 `unknown_round`);
- the claim itself, with type `claim_rejected`: an answer whose signature does
  not recover (401 `invalid_signature`), that does not parse (400
  `invalid_answer`), that claims another model than this verifier serves (400
  `model_mismatch`), token ids outside the vocabulary (400 `invalid_token_ids`),
  more tokens than it or the round allows (400 `too_many_tokens`), or an LSH
  signature that cannot be read (400 `invalid_lsh_signature`). Such a refusal is
  a vote: the verifier signs it (a `verification` whose one result is a failed
  `refusal` with the code) and puts it in the error body (`error.verification`),
  and the coordinator counts it as a failed vote and logs it. Like every refusal,
  it comes before any work and writes nothing to the verifier's own log.

An LSH signature that reads but is not the text's is a dishonest claim, not a
malformed request: the checks fail it. Methods: `teacher_forced` (one prefill of
the claimed ids) and `reexecution` (regenerate with the claim's own sampling and
compare LSH signatures), which a `decisive` request runs only when its result can
change the vote. Every verification names the request it answers, so a node that
asks too (any registered node may) gets its own answer, never one that makes the
verifier look like an equivocator.

The round must be a registered member's genuine round (its announcer registered,
the round id derived from it: `node.serve.rounds.round_announcement`, 403
`unknown_announcer` otherwise), this verifier must be in its announced pool (403:
otherwise it is nobody's verifier), and its conversation within
`round.max_prompt_chars`. Re-execution (a whole generation) follows this node's own
policy (`effective_methods`): with `verification.reexecute = "never"` it never
re-executes; `always` is honoured only from the round's coordinator, which alone
knows whether the answer is a flagged copy (its requests are bounded by its budget,
`node.serve.limits`); from anyone else it is read as `decisive`, after the
teacher-forced check, so a third party's check costs about one prefill.
"""

from collections.abc import Sequence
from typing import Any

from node.claims import claim_defect, claim_of
from node.context import NodeContext
from node.errors import BadRequest, ClaimRejected
from node.inference.base import Backend, SamplingSpec
from node.serve.admission import accept_message, admit
from node.serve.rounds import check_prompt, refuse, round_announcement
from reputation.envelope import (
    EnvelopeError,
    InvalidSignature,
    digest,
    recover_sender,
    sign_envelope,
)
from reputation.messages import (
    METHODS,
    REFUSAL,
    AnswerPayload,
    MethodResult,
    VerificationPayload,
    VerifyRequestPayload,
    payload_of,
)
from reputation.queries import find_announce
from verification.base import Claim, VerificationResult, Verifier
from verification.policy import reexecution_decides
from verification.reexecution import ReexecutionVerifier
from verification.signatures import SignatureError, decode_signature
from verification.teacher_forced import TeacherForcedVerifier

__all__ = ["check_claim", "refuse_impossible", "verifiers_for", "verify"]


def verifiers_for(backend: Backend) -> dict[str, Verifier]:
    async def regenerate(claim: Claim) -> str:
        return (await backend.generate(claim.messages, SamplingSpec.of(claim.sampling))).text

    return {
        "teacher_forced": TeacherForcedVerifier(backend.teacher_force),
        "reexecution": ReexecutionVerifier(regenerate),
    }


async def check_claim(
    backend: Backend, claim: Claim, methods: Sequence[str], reexecute: str = "always"
) -> list[VerificationResult]:
    """Run `methods` on `claim` in order. With `reexecute="decisive"` and the
    teacher-forced check first, re-execution runs only when it can change the vote."""
    verifiers = verifiers_for(backend)
    results: list[VerificationResult] = []
    temperature = float(claim.sampling["temperature"])
    for method in methods:
        forced = next((r for r in results if r.method == "teacher_forced"), None)
        if (
            method == "reexecution"
            and reexecute == "decisive"
            and forced is not None
            and not reexecution_decides(forced.as_dict(), temperature, copy_flagged=False)
        ):
            continue
        results.append(await verifiers[method].verify(claim))
    return results


def refuse_impossible(answer: AnswerPayload, backend: Backend, max_tokens: int) -> None:
    """`ClaimRejected` if no honest node serving this backend's model made `answer` in a
    round that allows `max_tokens` tokens."""
    defect = claim_defect(answer, backend.model_id, backend.vocab_size, max_tokens)
    if defect is not None:
        raise ClaimRejected(defect[1], code=defect[0])
    try:
        decode_signature(answer.signature)
    except SignatureError as exc:
        raise ClaimRejected(str(exc), code="invalid_lsh_signature") from exc


def effective_methods(
    ctx: NodeContext, request: VerifyRequestPayload, asker: str, announcer: str
) -> tuple[list[str], str]:
    """The methods this node runs for `request` and its re-execution mode: each method
    once, the teacher-forced check first; re-execution only as this node's own
    `verification.reexecute` allows (`never`: not at all), and `always` only for the
    round's own coordinator (it alone knows the round's copy flags); anyone else's
    `always` is read as `decisive`. A request left with no method is refused."""
    own = ctx.config.verification.reexecute
    wanted = set(request.methods)
    if own == "never":
        wanted.discard("reexecution")
    if not wanted:
        raise BadRequest("this node does not re-execute answers for others", code="method_refused")
    reexecute = request.reexecute
    if asker.lower() != announcer.lower():
        reexecute = "decisive"
        if "reexecution" in wanted:
            wanted.add("teacher_forced")  # a re-execution for others only when decisive
    return [m for m in METHODS if m in wanted], reexecute


def _signed(message: Any, kind: str, round_id: str) -> str:
    if not isinstance(message, dict) or message.get("type") != kind:
        raise BadRequest(f"verify request: expected a signed '{kind}' message")
    sender = recover_sender(message)  # InvalidSignature → 401
    if message.get("round_id") != round_id:
        raise BadRequest(f"verify request: the {kind} belongs to another round")
    return sender


async def verify(ctx: NodeContext, message: Any) -> dict[str, Any]:
    request_digest = accept_message(ctx, message, "verify_request")
    request = payload_of(VerifyRequestPayload, message)
    round_id = str(message["round_id"])
    try:
        results = await _check(ctx, message, request, round_id)
    except ClaimRejected as exc:
        refusal = MethodResult(
            method=REFUSAL, passed=False, score=0.0, evidence={"code": exc.code, "reason": str(exc)}
        )
        exc.signed = _signed_verification(ctx, round_id, request.subject, request_digest, [refusal])
        raise  # refused before any work: nothing goes in this node's log
    reply = _signed_verification(ctx, round_id, request.subject, request_digest, results)
    await ctx.journal.append(reply)
    ctx.metrics.served.labels("verify").inc()
    return reply


async def _check(
    ctx: NodeContext, message: dict[str, Any], request: VerifyRequestPayload, round_id: str
) -> list[MethodResult]:
    try:
        _signed(request.answer, "answer", round_id)
    except InvalidSignature as exc:
        raise ClaimRejected(f"the answer's {exc}", code="invalid_signature", status=401) from exc
    if request.subject != digest(request.answer):
        raise BadRequest("verify request: subject is not the answer's digest")
    found = request.announce or await ctx.journal.read(lambda log: find_announce(log, round_id))
    announce, announced = round_announcement(ctx, found, round_id)  # a member's real round
    if ctx.address.lower() not in {a.lower() for a in announced.weights}:
        raise refuse("this node is not in the round's announced pool: it is no verifier of it")
    check_prompt(ctx, announced.chat())
    methods, reexecute = effective_methods(
        ctx, request, asker=str(message["sender"]), announcer=str(announce["sender"])
    )
    try:
        answer = payload_of(AnswerPayload, request.answer)
    except EnvelopeError as exc:
        raise ClaimRejected(str(exc), code="invalid_answer") from exc
    if answer.announce != digest(announce):
        raise BadRequest("verify request: the answer is for another announcement")
    refuse_impossible(answer, ctx.backend, announced.max_tokens)
    admit(ctx, message)  # remembered and logged only now, after the cheap checks
    claim = claim_of(request.answer, announce)
    results = await check_claim(ctx.backend, claim, methods, reexecute)
    return [MethodResult(**r.as_dict()) for r in results]


def _signed_verification(
    ctx: NodeContext,
    round_id: str,
    subject: str,
    request: str,
    results: list[MethodResult],
) -> dict[str, Any]:
    payload = VerificationPayload(
        subject=subject, request=request, model=ctx.backend.model_id, results=results
    )
    return sign_envelope(ctx.account, "verification", round_id, payload.model_dump())
