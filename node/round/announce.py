"""Phase 1, query: the round id, the participants, and the signed announcement.

`round_id` = keccak(canonical request ‖ coordinator address ‖ nonce); the nonce
goes in the announcement, so anyone can recompute the id. Participants are a
draw over this node and its healthy peers serving its model, seeded with the
round id (`reputation.draws.draw_participants`; uniform weights until reputation
exists).
The announcement names the round's model: every answer must claim it, and the
round's topic: the client's category (`metadata.category`) or, without one, the
topic the node infers from the prompt (`NodeContext.topics`, fitted on its past
prompts: `reputation.epoch`), or none. The judges' records the round is ranked
with are taken here, as they stand when the announcement is logged, so an auditor
rebuilds them from the log (`reputation.epoch`).
"""

import os

from node.context import NodeContext
from node.round.values import Announced
from reputation.draws import draw_participants, round_id_for
from reputation.envelope import digest, sign_envelope
from reputation.epoch import infer_topic
from reputation.messages import AnnouncePayload
from reputation.result import topic_key

__all__ = ["draw_and_announce"]


def draw_and_announce(
    ctx: NodeContext, messages: list[dict[str, str]], max_tokens: int, category: str = ""
) -> Announced:
    topic, source = (category, "client") if category else infer_topic(ctx.topics, messages)
    nonce = os.urandom(16).hex()
    round_id = round_id_for(messages, max_tokens, ctx.address, nonce)
    pool = ctx.peers.pool(ctx.backend.model_id)
    weights = {a: round(ctx.peers.weight(a), 6) for a in pool}
    participants = draw_participants(round_id, pool, ctx.config.round.max_participants, weights)
    payload = AnnouncePayload.model_validate(
        {
            "messages": messages,
            "max_tokens": max_tokens,
            "participants": participants,
            "prompt_hash": digest(messages),
            "nonce": nonce,
            "model": ctx.backend.model_id,
            "topic": topic,
            "topic_source": source,
            "weights": weights,
            "draw_size": ctx.config.round.max_participants,
        }
    )
    message = sign_envelope(ctx.account, "announce", round_id, payload.model_dump())
    ctx.journal.append(message)
    # the judges' records as of this entry of the log (`reputation.epoch`)
    records = ctx.judges.records(topic_key(source, topic))
    return Announced(
        round_id=round_id,
        messages=messages,
        max_tokens=max_tokens,
        model=payload.model,
        participants=participants,
        message=message,
        digest=digest(message),
        prompt_hash=payload.prompt_hash,
        topic=topic,
        topic_source=source,
        weights=weights,
        records=records,
    )
