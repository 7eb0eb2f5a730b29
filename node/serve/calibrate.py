"""Calibrating a candidate, the attester's side (`POST /swarm/v1/calibrate`).

Two exchanges on one path, told apart by the message's type:

1. `calibrate_request`, signed by the candidate (any account: it need not be a
   member yet). Refused before any work: a request for another chain or contract
   (400 `wrong_chain`), another model than this node serves (400
   `model_mismatch`: the check needs the same model), from this node itself, while
   this node is not capable itself (409 `not_capable`: its attestation would not
   count), while the candidate has a session open (409 `session_open`), or when
   `MAX_OPEN` sessions are open (503 `busy`). Otherwise the reply is a signed
   `challenge`: `JUDGING` judging and `ANSWERING` answering challenges drawn from
   the bank with the session id as seed, the judging pairs in a seeded order, due
   within `DEADLINE` seconds.
2. `calibrate_replies`, signed by the same candidate, for an open session (404
   `unknown_session` otherwise, also past the deadline; a session takes one reply). The
   attester checks and scores them with its own model (`node.calibration.score`)
   and replies with a signed `attestation`: its scorecard and, when the candidate
   passed, its EIP-712 `Capability` signature, which the candidate takes to the
   chain. The attestation goes into the attester's log.
"""

import os
import random
import time
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from contracts.capability import Attestation, sign
from node.calibration import score
from node.context import NodeContext
from node.errors import BadRequest, Conflict, NotFound
from node.serve.admission import accept_message, chain_link, same_chain
from reputation.bank import load_bank
from reputation.calibration import ANSWERING, JUDGING, MAX_TOKENS
from reputation.envelope import sign_envelope
from reputation.messages import (
    AttestationPayload,
    CalibrateRequestPayload,
    ChallengePayload,
    JudgingTask,
    RepliesPayload,
    payload_of,
)

__all__ = ["DEADLINE", "MAX_OPEN", "Session", "calibrate"]

DEADLINE = 900.0
"""Seconds a candidate has to reply (a slow CPU node takes a few minutes)."""
MAX_OPEN = 2
"""Sessions this node keeps open at once (each costs it a full re-check)."""


@dataclass(frozen=True)
class Session:
    node: str
    challenge: ChallengePayload
    better_first: list[bool]
    answers: list[str]


async def calibrate(ctx: NodeContext, message: Any) -> dict[str, Any]:
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "calibrate_request":
        return await _challenge(ctx, message)
    if kind == "calibrate_replies":
        return await _attest(ctx, message)
    raise BadRequest("expected a signed calibrate_request or calibrate_replies message")


def _open(ctx: NodeContext, now: float) -> dict[str, Session]:
    """The open sessions, the expired ones dropped."""
    sessions = ctx.calibrations
    for sid in [s for s, v in sessions.items() if v.challenge.deadline < now]:
        del sessions[sid]
    return sessions


async def _challenge(ctx: NodeContext, message: dict[str, Any]) -> dict[str, Any]:
    link = chain_link(ctx)
    accept_message(ctx, message, "calibrate_request", once=False, members_only=False)
    request = payload_of(CalibrateRequestPayload, message)
    node = str(message["sender"])
    same_chain(link, request.chain_id, request.contract)
    if request.model != ctx.backend.model_id:
        raise BadRequest(
            f"this node serves {ctx.backend.model_id!r}, not {request.model!r}",
            code="model_mismatch",
        )
    if node.lower() == ctx.address.lower():
        raise BadRequest("a node cannot calibrate itself", code="self_calibration")
    if not await link.chain.capable(ctx.address):
        raise Conflict("this node is not capable itself: its word would not count", "not_capable")
    # no await from here to storing the session: two requests cannot both pass the checks
    now = time.time()
    sessions = _open(ctx, now)
    if any(s.node.lower() == node.lower() for s in sessions.values()):
        raise Conflict(f"{node} has a calibration session open here", "session_open")
    if len(sessions) >= MAX_OPEN:
        raise Conflict("this node is calibrating others; ask again later", "busy", 503)
    session = keccak(bytes.fromhex(node[2:]) + os.urandom(16))
    judging, answering = load_bank().draw(session, JUDGING, ANSWERING)
    rng = random.Random(session + b"order")
    order = [rng.random() < 0.5 for _ in judging]
    challenge = ChallengePayload(
        session="0x" + session.hex(),
        node=node,
        model=ctx.backend.model_id,
        judging=[
            JudgingTask(
                instruction=c.instruction,
                first=c.better if first else c.worse,
                second=c.worse if first else c.better,
            )
            for c, first in zip(judging, order, strict=True)
        ],
        answering=[c.question for c in answering],
        max_tokens=MAX_TOKENS,
        deadline=now + DEADLINE,
    )
    sessions[challenge.session] = Session(node, challenge, order, [c.answer for c in answering])
    return sign_envelope(ctx.account, "challenge", None, challenge.model_dump())


async def _attest(ctx: NodeContext, message: dict[str, Any]) -> dict[str, Any]:
    link = chain_link(ctx)
    accept_message(ctx, message, "calibrate_replies", once=False, members_only=False)
    replies = payload_of(RepliesPayload, message)
    node = str(message["sender"])
    sessions = _open(ctx, time.time())
    session = sessions.get(replies.session)
    if session is None or session.node.lower() != node.lower():
        raise NotFound("no open calibration session of this sender", code="unknown_session")
    del sessions[replies.session]
    try:
        card = await score(
            ctx.backend, session.challenge, session.better_first, session.answers, replies
        )
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    # the chain's time, not this machine's: `attest` refuses an attestation issued after
    # the block it lands in, and block times trail the wall clock
    issued = await link.chain.block_time(await link.chain.block_number())
    signature = b""
    if card.passed:
        claim = Attestation(node, session.challenge.model, card.score, issued)
        signature = sign(ctx.account, claim, link.chain.chain_id, link.chain.address)
    payload = AttestationPayload(
        session=replies.session,
        node=node,
        model=session.challenge.model,
        passed=card.passed,
        score=card.score,
        issued=issued,
        judging=[card.judging_right, card.judging_total],
        answering=[card.answering_right, card.answering_total],
        check_failures=card.check_failures,
        reasons=card.reasons,
        signature="0x" + signature.hex() if signature else "",
    )
    reply = sign_envelope(ctx.account, "attestation", None, payload.model_dump())
    ctx.journal.append(reply)
    return reply
