"""Calibrating a candidate, the attester's side (`POST /swarm/v1/calibrate`).

Two exchanges on one path, told apart by the message's type:

1. `calibrate_request`, signed by the candidate. Refused before any work: a request
   for another chain or contract (400 `wrong_chain`), another model than this node
   serves (400 `model_mismatch`: the check needs the same model), from this node
   itself, while this node is not capable itself (409 `not_capable`: its attestation
   would not count), from a key that is not a registered, staked member (403
   `not_a_member`) or that is capable already (409 `already_capable`), from a
   candidate cooling down after a failed session (429 `cooling_down`), while the
   candidate has a session open (409 `session_open`), or when `MAX_OPEN` sessions are
   open (503 `busy`). Who is a member and who is capable comes from the registry as
   this node last read it (`node.chain.membership.refresh`, every
   `chain.refresh_seconds`; no RPC call per request): a member registered (or one
   that lost its admission) since is told to ask again after the next read
   (`Retry-After`, which `node.calibration.calibrate` follows). Otherwise the reply is a
   signed `challenge`: `JUDGING` judging and `ANSWERING` answering challenges drawn
   from the bank with the session id as seed, the judging pairs in a seeded order,
   due within `round.calibration_deadline` seconds.
2. `calibrate_replies`, signed by the same candidate, for an open session (404
   `unknown_session` otherwise, also past the deadline; a session takes one reply). The
   attester checks and scores them with its own model (`node.calibration.score`, which
   looks at what it can without the model first, so replies that cannot pass cost no
   engine time, and stops checking once too many checks failed) and replies with a
   signed `attestation`: its scorecard and, when the candidate passed, its EIP-712
   `Capability` signature, which the candidate takes to the chain. The attestation
   goes into the attester's log.

A session that fails (no replies by the deadline, replies that do not fit the
challenge, a failed score) costs the candidate a cool-down: no new session here for
`round.calibration_cooldown` seconds. So a member can hold at most one of this node's
`MAX_OPEN` sessions, for at most the deadline, once per cool-down, and every
candidate is a staked member.
"""

import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from contracts.capability import Attestation, sign
from node.calibration import score
from node.context import NodeContext
from node.errors import BadRequest, Conflict, NotFound, TooManyRequests
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

__all__ = ["MAX_OPEN", "Desk", "Session", "calibrate"]

MAX_OPEN = 2
"""Sessions this node keeps open at once (each costs it a full re-check)."""


@dataclass(frozen=True)
class Session:
    node: str
    challenge: ChallengePayload
    better_first: list[bool]
    answers: list[str]


@dataclass
class Desk:
    """An attester's calibration state: its open sessions (by session id) and the
    candidates cooling down after a failed session (lower-cased address → until)."""

    sessions: dict[str, Session]
    cooldown: float
    cooling: dict[str, float] = field(default_factory=dict)

    def open(self, now: float) -> dict[str, Session]:
        """The open sessions; an expired one is dropped and cools its candidate down."""
        for sid in [s for s, v in self.sessions.items() if v.challenge.deadline < now]:
            self.cool(self.sessions.pop(sid).node, now)
        for node in [n for n, until in self.cooling.items() if until <= now]:
            del self.cooling[node]
        return self.sessions

    def cool(self, node: str, now: float) -> None:
        self.cooling[node.lower()] = now + self.cooldown

    def left(self, node: str, now: float) -> float:
        """Seconds `node` still cools down (0: it may ask)."""
        return max(0.0, self.cooling.get(node.lower(), now) - now)


def desk_of(ctx: NodeContext) -> Desk:
    return Desk(ctx.calibrations, ctx.config.round.calibration_cooldown)


async def calibrate(ctx: NodeContext, message: Any, desk: Desk | None = None) -> dict[str, Any]:
    desk = desk if desk is not None else desk_of(ctx)
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "calibrate_request":
        return await _challenge(ctx, desk, message)
    if kind == "calibrate_replies":
        return await _attest(ctx, desk, message)
    raise BadRequest("expected a signed calibrate_request or calibrate_replies message")


def _may_ask(ctx: NodeContext, desk: Desk, node: str, now: float) -> None:
    """The membership, capability and cool-down checks, from the cached registry."""
    capable, wait = ctx.peers.capable, ctx.config.chain.refresh_seconds
    if capable is None:
        busy = Conflict("this node has not read the registry yet", "registry_unknown", 503)
        busy.retry_after = wait
        raise busy
    if ctx.address.lower() not in capable:
        raise Conflict("this node is not capable itself: its word would not count", "not_capable")
    if node.lower() in capable:  # as of the last read: a member that just lost it asks again
        already = Conflict(f"{node} is capable already", "already_capable")
        already.retry_after = wait
        raise already
    if node.lower() not in ctx.peers.staked:
        refused = Conflict(
            f"{node} is not a registered, staked member (as of this node's last registry "
            f"read; it reads the registry every {wait:g} s)",
            "not_a_member",
            403,
        )
        refused.retry_after = wait
        raise refused
    left = desk.left(node, now)
    if left > 0:
        cooling = TooManyRequests(
            f"{node} failed a calibration session here; it may ask again in {left:.0f} s", left
        )
        cooling.code = "cooling_down"
        raise cooling


async def _challenge(ctx: NodeContext, desk: Desk, message: dict[str, Any]) -> dict[str, Any]:
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
    # no await from here to storing the session: two requests cannot both pass the checks
    now = time.time()
    sessions = desk.open(now)
    _may_ask(ctx, desk, node, now)
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
        deadline=now + ctx.config.round.calibration_deadline,
    )
    sessions[challenge.session] = Session(node, challenge, order, [c.answer for c in answering])
    return sign_envelope(ctx.account, "challenge", None, challenge.model_dump())


async def _attest(ctx: NodeContext, desk: Desk, message: dict[str, Any]) -> dict[str, Any]:
    link = chain_link(ctx)
    accept_message(ctx, message, "calibrate_replies", once=False, members_only=False)
    replies = payload_of(RepliesPayload, message)
    node = str(message["sender"])
    now = time.time()
    sessions = desk.open(now)
    session = sessions.get(replies.session)
    if session is None or session.node.lower() != node.lower():
        raise NotFound("no open calibration session of this sender", code="unknown_session")
    del sessions[replies.session]
    try:
        card = await score(
            ctx.backend, session.challenge, session.better_first, session.answers, replies
        )
    except ValueError as exc:
        desk.cool(node, now)
        raise BadRequest(str(exc)) from exc
    except BaseException:
        # any failed session costs its candidate the cool-down (replies that make the
        # engine fail would otherwise buy another session of prefills at once)
        desk.cool(node, now)
        raise
    if not card.passed:
        desk.cool(node, now)
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
