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

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from node.context import NodeContext
from node.serve.answer import answer
from node.serve.calibrate import calibrate
from node.serve.cosign import cosign
from node.serve.judge import judge
from node.serve.verify import verify

__all__ = ["PATHS", "answer", "calibrate", "cosign", "handlers", "judge", "verify"]

PATHS = {
    "answer": "/swarm/v1/answer",
    "judge": "/swarm/v1/judge",
    "verify": "/swarm/v1/verify",
    "cosign": "/swarm/v1/cosign",
    "calibrate": "/swarm/v1/calibrate",
}


def handlers(ctx: NodeContext) -> dict[str, Callable[[Any], Awaitable[dict[str, Any]]]]:
    """Each peer path's handler, bound to this node."""
    return {
        PATHS["answer"]: partial(answer, ctx),
        PATHS["judge"]: partial(judge, ctx),
        PATHS["verify"]: partial(verify, ctx),
        PATHS["cosign"]: partial(cosign, ctx),
        PATHS["calibrate"]: partial(calibrate, ctx),
    }
