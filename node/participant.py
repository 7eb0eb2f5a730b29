"""The participant's side of a round: answer an announcement, judge pairs.

Both check the incoming signed message first (signature, registered sender,
freshness, replay) and log it, then do the work, sign the reply and log it.
"""

import asyncio
from typing import Any

from eth_utils import keccak

from node.errors import BadRequest, MessageRejected
from node.inference.base import SamplingSpec
from node.protocol import (
    AnnouncePayload,
    AnswerPayload,
    JudgeRequestPayload,
    TaskVerdict,
    VerdictPayload,
    payload_of,
)
from node.state import NodeContext
from ranking.judging import VerdictUnreadable, judge_messages, verdict_from_logprobs
from reputation.envelope import digest, sign_envelope
from verification.signatures import encode_signature, signature

__all__ = ["accept_message", "answer_seed", "serve_answer", "serve_judge", "text_digest"]


def text_digest(text: str) -> str:
    return "0x" + keccak(text.encode("utf-8")).hex()


def answer_seed(base_seed: int, round_id: str) -> int:
    """The seed of a node's answer in a round: from its base seed and the round id."""
    return int.from_bytes(keccak(f"{base_seed}:{round_id}".encode())[:4], "big")


def accept_message(ctx: NodeContext, message: Any, kind: str) -> str:
    """The guard's check of an incoming signed message, counting refusals; its digest."""
    try:
        return ctx.guard.check(message, kind)
    except MessageRejected as exc:
        ctx.metrics.rejected.labels(exc.code).inc()
        raise


async def serve_answer(ctx: NodeContext, message: Any) -> dict[str, Any]:
    announce_digest = accept_message(ctx, message, "announce")
    announce = payload_of(AnnouncePayload, message)
    if ctx.address not in announce.participants:
        raise MessageRejected("this node is not a participant of the round")
    messages = [m.model_dump() for m in announce.messages]
    if digest(messages) != announce.prompt_hash:
        raise BadRequest("prompt_hash does not match the announced messages")
    ctx.log.append(message)
    cfg = ctx.config.sampling
    sampling = SamplingSpec(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=answer_seed(cfg.seed, message["round_id"]),
        max_tokens=min(announce.max_tokens, cfg.max_tokens),
    )
    generation = await ctx.backend.generate(messages, sampling)
    payload = AnswerPayload(
        text=generation.text,
        token_ids=generation.token_ids,
        model=ctx.backend.model_id,
        sampling=sampling.as_dict(),  # type: ignore[arg-type]
        prompt_hash=announce.prompt_hash,
        finish_reason=generation.finish_reason,
        announce=announce_digest,
        signature=encode_signature(signature(generation.text)),
    )
    answer = sign_envelope(ctx.account, "answer", message["round_id"], payload.model_dump())
    ctx.log.append(answer)
    ctx.metrics.served.labels("answer").inc()
    return answer


async def _judge_one(
    ctx: NodeContext, messages: list[dict[str, str]], first: str, second: str
) -> tuple[float, float]:
    top = await ctx.backend.next_token_logprobs(judge_messages(messages, first, second))
    try:
        verdict = verdict_from_logprobs(top)
    except VerdictUnreadable:
        return 0.5, 0.0  # no opinion: a tie that carries no probability mass
    return verdict.p_first, verdict.mass


async def serve_judge(ctx: NodeContext, message: Any) -> dict[str, Any]:
    request_digest = accept_message(ctx, message, "judge_request")
    request = payload_of(JudgeRequestPayload, message)
    for task in request.tasks:
        if (
            text_digest(task.first) != task.first_digest
            or text_digest(task.second) != task.second_digest
        ):
            raise BadRequest(f"task {task.task}: a text does not match its digest")
    ctx.log.append(message)
    messages = [m.model_dump() for m in request.messages]
    results = await asyncio.gather(
        *(_judge_one(ctx, messages, t.first, t.second) for t in request.tasks)
    )
    payload = VerdictPayload(
        model=ctx.backend.model_id,
        request=request_digest,
        verdicts=[
            TaskVerdict(
                task=t.task,
                first_digest=t.first_digest,
                second_digest=t.second_digest,
                p_first=p,
                mass=mass,
            )
            for t, (p, mass) in zip(request.tasks, results, strict=True)
        ],
    )
    verdict = sign_envelope(ctx.account, "verdict", message["round_id"], payload.model_dump())
    ctx.log.append(verdict)
    ctx.metrics.served.labels("judge").inc()
    return verdict
