"""The participant's side of a round: answer, judge, verify; co-signing a batch's
settlement (`cosign`, for `node.chain.batches`); and calibrating a candidate
(`calibrate`, for `node.calibration`).

Each handler takes a signed request message and returns the signed reply; its
name matches the coordinator's phase on the other side of the exchange
(`node.round.answering` ↔ `answer`, `node.round.judging` ↔ `judge`,
`node.round.verifying` ↔ `verify`). The HTTP routes and the node's own local
peer reach them through `handlers`, so the coordinator asks itself exactly as it
asks any other node.
"""

import contextlib
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from node.context import NodeContext
from node.serve.answer import answer
from node.serve.calibrate import calibrate, desk_of
from node.serve.cosign import cosign
from node.serve.judge import judge
from node.serve.limits import (
    OTHERS,
    InFlight,
    SenderBudgets,
    derived_in_flight,
    retry_seconds,
)
from node.serve.verify import verify
from reputation.envelope import EnvelopeError, recover_sender

__all__ = ["PATHS", "answer", "calibrate", "cosign", "handlers", "judge", "verify"]

PATHS = {
    "answer": "/swarm/v1/answer",
    "judge": "/swarm/v1/judge",
    "verify": "/swarm/v1/verify",
    "cosign": "/swarm/v1/cosign",
    "calibrate": "/swarm/v1/calibrate",
}


Handler = Callable[[Any], Awaitable[dict[str, Any]]]


def handlers(ctx: NodeContext, budgets: SenderBudgets | None = None) -> dict[str, Handler]:
    """Each peer path's handler, bound to this node, charged to its signer's budget."""
    if budgets is None:
        budgets = SenderBudgets.of(
            ctx.config,
            lambda: {a.lower() for a in ctx.peers.registered()} | ctx.peers.staked,
            on_refusal=lambda route: ctx.metrics.refused_busy.labels(route).inc(),
        )
    bound: dict[str, Handler] = {
        PATHS["answer"]: partial(answer, ctx),
        PATHS["judge"]: partial(judge, ctx),
        PATHS["verify"]: partial(verify, ctx),
        PATHS["cosign"]: partial(cosign, ctx),
        PATHS["calibrate"]: partial(calibrate, ctx, desk=desk_of(ctx)),
    }
    work = peer_work(ctx)
    return {path: _budgeted(ctx, budgets, work, path, h) for path, h in bound.items()}


ENGINE_ROUTES = frozenset((PATHS["answer"], PATHS["judge"], PATHS["verify"]))
"""Peer routes whose requests run this node's engine."""


def peer_work(ctx: NodeContext) -> InFlight:
    """The one cap on engine requests from other nodes (`round.max_peer_work`)."""
    limit = ctx.config.round.max_peer_work or (
        ctx.config.round.max_participants * derived_in_flight(ctx.config, ctx.speed)
    )
    ctx.metrics.in_flight_limit.labels("peer_work").set(limit)
    gauge = ctx.metrics.in_flight.labels("peer_work")
    retry = retry_seconds(ctx.config, ctx.speed)
    return InFlight("engine requests from peers", limit, retry, gauge.set)


def _budgeted(
    ctx: NodeContext, budgets: SenderBudgets, work: InFlight, route: str, handler: Handler
) -> Handler:
    async def run(message: Any) -> dict[str, Any]:
        try:
            signer = recover_sender(message)
        except (EnvelopeError, ValueError, TypeError, KeyError):
            signer = OTHERS  # the handler refuses it; its refusals share one budget
        if signer.lower() == ctx.address.lower():
            return await handler(message)  # bounded by this node's own rounds in flight
        with (
            budgets.take(route, signer),
            work.acquire() if route in ENGINE_ROUTES else contextlib.nullcontext(),
        ):
            return await handler(message)

    return run
