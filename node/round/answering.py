"""Phase 2, answer: every participant answers the announcement; admission checks each.

An answer is admitted only when it is a fresh signed `answer` of this round from
the participant asked, for this announcement and prompt, claims the round's
model, has token ids inside the vocabulary and no more of them than the round
allows (`node.claims.claim_defect`: a claim that no honest node could make never
enters the round, so it cannot skip verification by making every verifier refuse
it or fail to check it), and carries its own text's LSH signature. Participants
that fail, time out or send an answer that is not admitted are left out; the
round fails with fewer than `round.min_answers`.
"""

import asyncio
from functools import partial
from typing import Any

from node.claims import claim_defect, claim_of
from node.context import NodeContext
from node.errors import BadReply, RoundFailed
from node.peers.fanout import Gathered, fan_out
from node.round.timeouts import answer_timeout
from node.round.trail import Trail
from node.round.values import Announced, Answer
from node.serve import PATHS
from reputation.messages import AnswerPayload, payload_of
from verification.signatures import SignatureError

__all__ = ["admit", "answering", "signed"]


def admit(ctx: NodeContext, announced: Announced, address: str, reply: Any) -> Answer:
    """The answer, once its cheap checks pass, or an exception saying why it is not
    admitted; its LSH signature is checked next, off the event loop (`signed`)."""
    if not isinstance(reply, dict) or reply.get("sender") != address:
        raise BadReply("answer signed by another node")  # before the guard remembers it
    ctx.guard.check(reply, "answer", announced.round_id, remember=False)
    payload = payload_of(AnswerPayload, reply)
    if payload.announce != announced.digest or payload.prompt_hash != announced.prompt_hash:
        raise BadReply("answer is for another announcement")
    vocab = ctx.backend.vocab_size
    defect = claim_defect(payload, announced.model, vocab, announced.max_tokens)
    if defect is not None:
        raise BadReply(f"{defect[0]}: {defect[1]}")
    claim = claim_of(reply, announced.message)
    ctx.guard.remember(reply)  # kept once its cheap checks pass (`node.guard`)
    return Answer(address, reply, payload, claim, claim.key)


def _signature_defect(answer: Answer) -> str | None:
    try:
        answer.claim.lean()  # SignatureError: malformed, or not the text's
    except SignatureError as exc:
        return f"SignatureError: {exc}"
    return None


async def signed(gathered: Gathered[Answer]) -> None:
    """Leave out every answer whose LSH signature is not its text's. The signatures are
    recomputed in a worker thread: texts are bounded (`claim_defect`), but hashing many
    of them would still hold up every other round on this node's event loop."""
    replies = list(gathered.replies.items())
    defects = await asyncio.to_thread(lambda: [_signature_defect(a) for _, a in replies])
    for (address, _), defect in zip(replies, defects, strict=True):
        if defect is not None:
            del gathered.replies[address]
            gathered.absent[address] = BadReply(defect)


async def answering(ctx: NodeContext, announced: Announced, trail: Trail) -> list[Answer]:
    chars = sum(len(m["content"]) for m in announced.messages)
    participants = announced.participants
    timeout = answer_timeout(ctx.config, ctx.speed, chars, announced.max_tokens, len(participants))
    gathered = await fan_out(
        ctx.peers,
        PATHS["answer"],
        dict.fromkeys(participants, announced.message),
        timeout,
        partial(admit, ctx, announced),
    )
    await signed(gathered)
    trail.report(gathered, "answer")
    answers = [gathered.replies[a] for a in participants if a in gathered.replies]
    for answer in answers:
        ctx.journal.append(answer.message)
        ctx.peers.note_model(answer.node, announced.model)  # it signed the round's model
    if len(answers) < ctx.config.round.min_answers:
        raise RoundFailed(
            f"only {len(answers)} of {len(participants)} nodes answered; "
            f"a round needs {ctx.config.round.min_answers}"
        )
    return answers
