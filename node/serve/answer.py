"""Phase 2, the participant's side: answer an announcement (`POST /swarm/v1/answer`).

The announcement must come from a registered node, carry a round id that
derives from its sender and nonce (nobody can announce a round in another
coordinator's name, so a participant answers each round at most once), name
this node as a participant, list participants that are the seeded draw from the
pool and weights it announces (`reputation.draws`: a coordinator cannot hand-pick
its participants; whether the weights are the registry's is the audit's to check),
carry the hash of its own messages, hold a conversation within
`round.max_prompt_chars` (400 `context_length_exceeded`, as for a client), and name
this node's model as the round's (an answer with another model could not pass the
round's checks). The pool must hold the announcer (an honest coordinator's always
does) and, with two or more nodes in it, the round must draw at least two answerers:
an announcement addressed to one node alone is no round, only a free generation (400
`not_a_round`). `max_tokens` is the smaller of the round's and this node's own.
The participant logs it, generates with its own signed sampling settings (its
base seed and the round id give the seed), signs the answer with the text's LSH
signature, logs the answer and returns it.
"""

import asyncio
from typing import Any

from node.context import NodeContext
from node.errors import BadRequest, MessageRejected
from node.inference.base import SamplingSpec
from node.serve.admission import accept_message, admit
from node.serve.rounds import check_derived, check_prompt
from reputation.draws import answer_seed, draw_participants
from reputation.envelope import digest, sign_envelope
from reputation.messages import AnnouncePayload, AnswerPayload, Sampling, payload_of
from verification.signatures import encode_signature, signature

__all__ = ["answer"]


async def answer(ctx: NodeContext, message: Any) -> dict[str, Any]:
    announce_digest = accept_message(ctx, message, "announce")
    announce = payload_of(AnnouncePayload, message)
    chat = announce.chat()
    check_derived(message["round_id"], announce, message["sender"])
    if ctx.address not in announce.participants:
        raise MessageRejected("this node is not a participant of the round")
    drawn = draw_participants(
        message["round_id"], list(announce.weights), announce.draw_size, announce.weights
    )
    if drawn != announce.participants:
        raise BadRequest(
            "the participants are not the round's seeded draw from the announced weights",
            code="wrong_draw",
        )
    pool = {a.lower() for a in announce.weights}
    if str(message["sender"]).lower() not in pool or len(drawn) < min(2, len(pool)):
        raise BadRequest(
            "not a round: a coordinator's pool holds itself, and a round draws at least "
            "two answerers (an announcement addressed to one node is a free generation)",
            code="not_a_round",
        )
    if digest(chat) != announce.prompt_hash:
        raise BadRequest("prompt_hash does not match the announced messages")
    check_prompt(ctx, chat)  # the limit a client's request meets, for a peer's round too
    if announce.model != ctx.backend.model_id:
        raise BadRequest(
            f"the round's model is {announce.model!r}; this node serves {ctx.backend.model_id!r}",
            code="model_mismatch",
        )
    admit(ctx, message)  # remembered and logged only now, after the cheap checks
    cfg = ctx.config.sampling
    sampling = SamplingSpec(
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        seed=answer_seed(cfg.seed, message["round_id"]),
        max_tokens=min(announce.max_tokens, cfg.max_tokens),
    )
    generation = await ctx.backend.generate(chat, sampling)
    lsh = await asyncio.to_thread(signature, generation.text)  # CPU work off the loop
    payload = AnswerPayload(
        text=generation.text,
        token_ids=generation.token_ids,
        model=ctx.backend.model_id,
        sampling=Sampling(**sampling.as_dict()),
        prompt_hash=announce.prompt_hash,
        finish_reason=generation.finish_reason,
        announce=announce_digest,
        signature=encode_signature(lsh),
    )
    reply = sign_envelope(ctx.account, "answer", message["round_id"], payload.model_dump())
    await ctx.journal.append(reply)
    ctx.metrics.served.labels("answer").inc()
    return reply
