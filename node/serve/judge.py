"""Phase 4, the participant's side: judge a round's pairs (`POST /swarm/v1/judge`).

A judge request names its judge and carries the conversation and every task
this judge has in the round; a request for another judge is refused, and each
text must match its digest. All tasks go to the engine as one batch
(`Backend.next_token_logprobs`), one forward pass each: the verdict is read from
the next token after the prefill "The better answer is Answer " (`ranking.judging`).
An unreadable verdict (neither "1" nor "2" among the top tokens) is a tie that
carries no probability mass, so it weighs nothing in the round's fit.
"""

from typing import Any

from node.context import NodeContext
from node.errors import BadRequest
from node.serve.admission import accept_message
from ranking.judging import Verdict, VerdictUnreadable, judge_messages, verdict_from_logprobs
from reputation.draws import text_digest
from reputation.envelope import sign_envelope
from reputation.messages import JudgeRequestPayload, TaskVerdict, VerdictPayload, payload_of

__all__ = ["judge"]

NO_OPINION = Verdict(p_first=0.5, mass=0.0)


def _read(top: dict[str, float]) -> Verdict:
    try:
        return verdict_from_logprobs(top)
    except VerdictUnreadable:
        return NO_OPINION


async def judge(ctx: NodeContext, message: Any) -> dict[str, Any]:
    request_digest = accept_message(ctx, message, "judge_request")
    request = payload_of(JudgeRequestPayload, message)
    if request.judge.lower() != ctx.address.lower():
        raise BadRequest("this judge request is for another judge")
    for task in request.tasks:
        if (
            text_digest(task.first) != task.first_digest
            or text_digest(task.second) != task.second_digest
        ):
            raise BadRequest(f"task {task.task}: a text does not match its digest")
    ctx.journal.append(message)
    chat = request.chat()
    prompts = [judge_messages(chat, t.first, t.second) for t in request.tasks]
    verdicts = [_read(top) for top in await ctx.backend.next_token_logprobs(prompts)]
    payload = VerdictPayload(
        model=ctx.backend.model_id,
        request=request_digest,
        verdicts=[
            TaskVerdict(
                task=t.task,
                first_digest=t.first_digest,
                second_digest=t.second_digest,
                p_first=v.p_first,
                mass=v.mass,
            )
            for t, v in zip(request.tasks, verdicts, strict=True)
        ],
    )
    reply = sign_envelope(ctx.account, "verdict", message["round_id"], payload.model_dump())
    await ctx.journal.append(reply)
    ctx.metrics.served.labels("judge").inc()
    return reply
