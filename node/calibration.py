"""Proof-of-capability on a node: the work both sides do, and the candidate's run.

The rules and the scoring are `reputation.calibration`'s; this module runs them
on a backend:

- `judging_means`: an answer's mean token log-probability as the reply to an
  instruction (one teacher-forced prefill per answer); the candidate reports it
  and the attester computes it again with its own model.
- `answer_question`: a greedy answer within the challenge's token budget.
- `reply`: the candidate's replies to a challenge, with progress.
- `score`: the attester's checks and score of the replies.
- `calibrate`: the candidate asks as many attesters at once as it still needs
  (`POST /swarm/v1/calibrate`), replies to each challenge and collects the signed
  attestations, going down its list of attesters until enough have passed it or
  none is left.
"""

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import aiohttp

from node.errors import BackendError
from node.inference.base import Backend, Generation, SamplingSpec
from node.peers.transport import MAX_REPLY_BYTES, read_json
from reputation.calibration import (
    ALLOWED_CHECK_FAILURES,
    MAX_ANSWER_TOKENS,
    Scorecard,
    answer_value,
    mean_logprob,
    means_agree,
)
from reputation.envelope import EnvelopeError, recover_sender, sign_envelope
from reputation.messages import (
    AnsweringReply,
    AttestationPayload,
    CalibrateRequestPayload,
    ChallengePayload,
    JudgingTask,
    RepliesPayload,
    payload_of,
)
from verification.teacher_forced import assess

__all__ = [
    "Attester",
    "CalibrationFailed",
    "answer_question",
    "calibrate",
    "check_answer",
    "judging_means",
    "reply",
    "score",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[str, int, int], None]
"""(what, done, total): called as the work goes on."""


class CalibrationFailed(Exception):
    """An attester could not be asked, refused, or did not attest; `retry_after`: the
    seconds after which the attester said to ask again (its `Retry-After`), if it did."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


ASK_AGAIN = 2
"""Times a candidate asks an attester again that said when to (`Retry-After`, e.g. a
member registered after the attester last read the registry), waiting at most
`ASK_AGAIN_MAX` seconds each time."""
ASK_AGAIN_MAX = 60.0


@dataclass(frozen=True)
class Attester:
    node: str
    url: str


def _greedy(max_tokens: int) -> SamplingSpec:
    return SamplingSpec(temperature=0.0, top_p=1.0, seed=0, max_tokens=max_tokens)


async def judging_means(backend: Backend, task: JudgingTask) -> list[float]:
    """The mean token log-probability of `first` and of `second` as the model's reply to
    the instruction (each cut to `MAX_ANSWER_TOKENS`)."""
    chat = [{"role": "user", "content": task.instruction}]
    means = []
    for text in (task.first, task.second):
        ids = (await backend.tokenize(text))[:MAX_ANSWER_TOKENS]
        forced = await backend.teacher_force(chat, ids)
        means.append(mean_logprob([s.logprob for s in forced.scores]))
    return means


async def answer_question(backend: Backend, question: str, max_tokens: int) -> Generation:
    return await backend.generate([{"role": "user", "content": question}], _greedy(max_tokens))


async def reply(
    backend: Backend, challenge: ChallengePayload, progress: Progress | None = None
) -> RepliesPayload:
    """The candidate's replies to every challenge, in order (sent to the engine together,
    which batches them)."""
    total = len(challenge.judging) + len(challenge.answering)
    done = 0

    async def tick(what: str, work: Awaitable[T]) -> T:
        nonlocal done
        result = await work
        done += 1
        if progress:
            progress(what, done, total)
        return result

    judging = [tick("judging", judging_means(backend, t)) for t in challenge.judging]
    answering = [
        tick("answering", answer_question(backend, q, challenge.max_tokens))
        for q in challenge.answering
    ]
    means = await asyncio.gather(*judging)
    answers = await asyncio.gather(*answering)
    return RepliesPayload(
        session=challenge.session,
        judging=list(means),
        answering=[AnsweringReply(text=g.text, token_ids=g.token_ids) for g in answers],
    )


async def score(
    backend: Backend,
    challenge: ChallengePayload,
    better_first: Sequence[bool],
    answers: Sequence[str],
    replies: RepliesPayload,
) -> Scorecard:
    """The attester's check and score of `replies` (`reputation.calibration`), spending
    as little engine time as the outcome allows:

    1. without the model: the replies must answer the challenge one to one
       (`ValueError` otherwise); a judging reply must be two finite log-probabilities
       (≤ 0) and an answer must have token ids within the vocabulary and the budget,
       else its check fails at once; and if the replies could not pass even with
       every remaining check passing (the preferences and the answers' values are
       known without the model), nothing is run: the card says so;
    2. with the model, `CHECK_BATCH` replies at a time, judging first: once more
       checks have failed than a pass allows, the rest are not run (a reply of junk
       costs one batch, not the whole session)."""
    if len(replies.judging) != len(challenge.judging) or len(replies.answering) != len(
        challenge.answering
    ):
        raise ValueError("the replies do not match the challenge's tasks one to one")
    work: list[tuple[str, int, bool]] = []  # (kind, index, right) of the replies to check
    card = Scorecard()
    for i, (first, claimed) in enumerate(zip(better_first, replies.judging, strict=True)):
        right = (claimed[0] > claimed[1]) == first
        if not all(math.isfinite(c) and c <= 0.0 for c in claimed):
            card.judged(right, False, "a judging reply is not two log-probabilities")
        else:
            work.append(("judging", i, right))
    sampling = _greedy(challenge.max_tokens).as_dict()
    for i, (known, got) in enumerate(zip(answers, replies.answering, strict=True)):
        right = answer_value(got.text) == known
        defect = _answer_defect(backend, got, sampling["max_tokens"])
        if defect:
            card.answered(right, False, defect)
        else:
            work.append(("answering", i, right))
    best = _with(card, [(kind, right, True, "") for kind, _, right in work])
    if not best.passed:
        best.reasons.append(
            f"the replies cannot pass (at most {best.score / 100:.1f}% with every check "
            "passing): not checked with the model"
        )
        return best
    allowed = ALLOWED_CHECK_FAILURES * (len(challenge.judging) + len(challenge.answering))
    for start in range(0, len(work), CHECK_BATCH):
        if card.check_failures > allowed:
            card.reasons.append(
                f"{len(work) - start} replies not checked: too many checks had failed"
            )
            break
        batch = work[start : start + CHECK_BATCH]
        results = await asyncio.gather(
            *(_check_one(backend, challenge, replies, kind, i, sampling) for kind, i, _ in batch)
        )
        card = _with(
            card,
            [(k, right, ok, why) for (k, _, right), (ok, why) in zip(batch, results, strict=True)],
        )
    return card


CHECK_BATCH = 8
"""Replies the attester checks with its model at once (one engine batch)."""


def _answer_defect(backend: Backend, got: AnsweringReply, max_tokens: int) -> str:
    if not got.token_ids or any(not 0 <= t < backend.vocab_size for t in got.token_ids):
        return "an answer has no token ids or impossible ones"
    if len(got.token_ids) > max_tokens:
        return "an answer is longer than the challenge allows"
    return ""


def _with(card: Scorecard, results: Sequence[tuple[str, bool, bool, str]]) -> Scorecard:
    """A copy of `card` with `results` (kind, right, checked, reason) added."""
    out = replace(card, reasons=list(card.reasons))
    for kind, right, checked, reason in results:
        (out.judged if kind == "judging" else out.answered)(right, checked, reason)
    return out


async def _check_one(
    backend: Backend,
    challenge: ChallengePayload,
    replies: RepliesPayload,
    kind: str,
    i: int,
    sampling: dict[str, Any],
) -> tuple[bool, str]:
    if kind == "judging":
        own = await judging_means(backend, challenge.judging[i])
        agree = means_agree(replies.judging[i], own)
        return agree, "" if agree else "a judging reply's log-probabilities are not the model's"
    return await check_answer(backend, challenge.answering[i], replies.answering[i], sampling)


async def check_answer(
    backend: Backend, question: str, got: AnsweringReply, sampling: dict[str, Any]
) -> tuple[bool, str]:
    """The teacher-forced check of one greedy answer: (passed, the reason if not)."""
    if not got.token_ids or any(not 0 <= t < backend.vocab_size for t in got.token_ids):
        return False, "an answer has no token ids or impossible ones"
    if len(got.token_ids) > sampling["max_tokens"]:
        return False, "an answer is longer than the challenge allows"
    forced = await backend.teacher_force([{"role": "user", "content": question}], got.token_ids)
    check = assess(got.text, sampling, forced)
    return check.passed, str(check.evidence.get("reason", "not the model's greedy answer"))


async def _post(http: aiohttp.ClientSession, url: str, message: dict[str, Any]) -> dict[str, Any]:
    try:
        async with http.post(url.rstrip("/") + "/swarm/v1/calibrate", json=message) as response:
            body = await read_json(response, MAX_REPLY_BYTES)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise CalibrationFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        try:
            wait: float | None = float(response.headers.get("Retry-After", ""))
        except ValueError:
            wait = None
        raise CalibrationFailed(f"{url} refused: {error.get('message', response.status)}", wait)
    if not isinstance(body, dict):
        raise CalibrationFailed(f"{url} replied with something that is not a message")
    return body


async def _session(
    http: aiohttp.ClientSession,
    account: Any,
    backend: Backend,
    attester: Attester,
    request: CalibrateRequestPayload,
    progress: Progress | None,
) -> AttestationPayload:
    asked = sign_envelope(account, "calibrate_request", None, request.model_dump())
    signed = await _post(http, attester.url, asked)
    if recover_sender(signed).lower() != attester.node.lower() or signed["type"] != "challenge":
        raise CalibrationFailed(f"{attester.url} sent no challenge signed by {attester.node}")
    challenge = payload_of(ChallengePayload, signed)
    if challenge.node.lower() != account.address.lower():
        raise CalibrationFailed(f"{attester.url} sent a challenge for another node")
    replies = await reply(backend, challenge, progress)
    sent = sign_envelope(account, "calibrate_replies", None, replies.model_dump())
    verdict = await _post(http, attester.url, sent)
    if recover_sender(verdict).lower() != attester.node.lower() or verdict["type"] != "attestation":
        raise CalibrationFailed(f"{attester.url} did not reply with its signed attestation")
    return payload_of(AttestationPayload, verdict)


async def calibrate(
    account: Any,
    backend: Backend,
    request: CalibrateRequestPayload,
    attesters: Sequence[Attester],
    needed: int,
    timeout: float,
    progress: Callable[[Attester, str, int, int], None] | None = None,
) -> tuple[list[tuple[Attester, AttestationPayload]], list[str]]:
    """Attestations from `attesters` in turn until `needed` passed ones are in hand:
    (every attester's attestation received, the problems met on the way)."""
    got: list[tuple[Attester, AttestationPayload]] = []
    problems: list[str] = []
    client = aiohttp.ClientTimeout(total=timeout)
    queue = list(attesters)
    async with aiohttp.ClientSession(timeout=client) as http:

        async def ask(attester: Attester) -> None:
            tick = (lambda w, d, t: progress(attester, w, d, t)) if progress else None
            for again in range(ASK_AGAIN + 1):
                try:
                    verdict = await _session(http, account, backend, attester, request, tick)
                    got.append((attester, verdict))
                    return
                except CalibrationFailed as exc:
                    wait = exc.retry_after
                    if wait is not None and wait <= ASK_AGAIN_MAX and again < ASK_AGAIN:
                        log.info("%s: asking again in %g s", exc, wait)
                        await asyncio.sleep(wait)
                        continue
                    problem: Exception = exc
                except (BackendError, EnvelopeError, KeyError, TimeoutError) as exc:
                    problem = exc
                problems.append(str(problem))
                log.warning("calibration with %s failed: %s", attester.node, problem)
                return

        while queue and sum(a.passed for _, a in got) < needed:
            wave = needed - sum(a.passed for _, a in got)
            await asyncio.gather(*(ask(a) for a in queue[:wave]))
            del queue[:wave]
    return got, problems
