"""Phase 4, the participant's side: judge a round's pairs (`POST /swarm/v1/judge`).

A judge request names its judge and carries the conversation and every task
this judge has in the round; a request for another judge is refused, and each
text must match its digest. All tasks go to the engine as one batch
(`Backend.next_token_logprobs`), one forward pass each: the verdict is read from
the next token after the prefill "The better answer is Answer " (`ranking.judging`).
An unreadable verdict (neither "1" nor "2" among the top tokens) is a tie that
carries no probability mass, so it weighs nothing in the round's fit.

Before any engine work the judge checks that the request belongs to a real round
it takes part in: the round's announcement must be in this node's log (a judge is
one of the round's answerers, and it logged the announcement when it answered),
be genuine and by a registered member (`node.serve.rounds.round_announcement`), be
signed by the same node as the judge request (only a round's coordinator asks for
its verdicts) and list this node as a participant; the request's conversation must
be the announced one, within `round.max_prompt_chars`. A request of a round never
announced to this node is a 404 `unknown_round`. The tasks are bounded by what the
round could assign (`task_budget`): each task is an ordered pair of candidates
this judge wrote neither of, so with n participants (at most n candidates, one of
them the judge's own) no request holds more than (n−1)(n−2) tasks, and no pair
twice; more is a 400 `too_many_tasks`.
"""

from typing import Any

from node.context import NodeContext
from node.errors import BadRequest
from node.serve.admission import accept_message, admit
from node.serve.rounds import check_prompt, refuse, round_announcement
from ranking.judging import Verdict, VerdictUnreadable, judge_messages, verdict_from_logprobs
from reputation.draws import text_digest
from reputation.envelope import sign_envelope
from reputation.messages import JudgeRequestPayload, TaskVerdict, VerdictPayload, payload_of
from reputation.queries import find_announce

__all__ = ["judge", "task_budget"]

NO_OPINION = Verdict(p_first=0.5, mass=0.0)


def _read(top: dict[str, float]) -> Verdict:
    try:
        return verdict_from_logprobs(top)
    except VerdictUnreadable:
        return NO_OPINION


def task_budget(participants: int) -> int:
    """The most tasks one judge request of a round of `participants` answerers can hold:
    the ordered pairs of the other candidates, (n−1)(n−2)."""
    return max(0, (participants - 1) * (participants - 2))


async def judge(ctx: NodeContext, message: Any) -> dict[str, Any]:
    request_digest = accept_message(ctx, message, "judge_request")
    request = payload_of(JudgeRequestPayload, message)
    if request.judge.lower() != ctx.address.lower():
        raise BadRequest("this judge request is for another judge")
    round_id = str(message["round_id"])
    found = await ctx.journal.read(lambda log: find_announce(log, round_id))
    logged, announced = round_announcement(ctx, found, round_id)
    if str(logged["sender"]).lower() != str(message["sender"]).lower():
        raise refuse("only the round's coordinator asks for its verdicts")
    if ctx.address.lower() not in {p.lower() for p in announced.participants}:
        raise refuse("this node is not a participant of the round")
    if request.chat() != announced.chat():
        raise BadRequest("the judge request's conversation is not the announced one")
    check_prompt(ctx, request.chat())
    budget = task_budget(len(announced.participants))
    if len(request.tasks) > budget:
        raise BadRequest(
            f"{len(request.tasks)} tasks; a round of {len(announced.participants)} "
            f"participants gives a judge at most {budget}",
            code="too_many_tasks",
        )
    pairs = {(t.first_digest, t.second_digest) for t in request.tasks}
    ids = {t.task for t in request.tasks}
    if len(pairs) < len(request.tasks) or len(ids) < len(request.tasks):
        raise BadRequest("a task or an ordered pair appears twice", code="too_many_tasks")
    if any(t.first_digest == t.second_digest for t in request.tasks):
        raise BadRequest("a task compares a text with itself")
    for task in request.tasks:
        if (
            text_digest(task.first) != task.first_digest
            or text_digest(task.second) != task.second_digest
        ):
            raise BadRequest(f"task {task.task}: a text does not match its digest")
    admit(ctx, message)  # remembered and logged only now, after the cheap checks
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
