"""The first thing every participant handler does: check the incoming signed message."""

from typing import Any

from node.context import NodeContext
from node.errors import BadRequest, MessageRejected, NotFound

__all__ = ["accept_message", "admit", "chain_link", "same_chain"]


def accept_message(
    ctx: NodeContext, message: Any, kind: str, once: bool = True, members_only: bool = True
) -> str:
    """The guard's check of an incoming signed message, counting refusals; its digest.
    Nothing is remembered yet: a handler that serves the message calls `admit` once
    its own checks pass (`node.guard`)."""
    try:
        return ctx.guard.check(message, kind, once=once, members_only=members_only, remember=False)
    except MessageRejected as exc:
        ctx.metrics.rejected.labels(exc.code).inc()
        raise


def admit(ctx: NodeContext, message: dict[str, Any]) -> None:
    """Remember an accepted request in the guard (a replay or equivocation is refused
    here too) and log it: after the handler's cheap checks, before any engine work."""
    try:
        ctx.guard.remember(message)
    except MessageRejected as exc:
        ctx.metrics.rejected.labels(exc.code).inc()
        raise
    ctx.journal.append(message)


def chain_link(ctx: NodeContext) -> Any:
    """The node's `ChainLink`; a 404 `no_chain` for a request that needs one."""
    if ctx.chain is None:
        raise NotFound("this node is not on a chain", code="no_chain")
    return ctx.chain


def same_chain(link: Any, chain_id: int, contract: str) -> None:
    """A 400 `wrong_chain` unless a request names this node's chain and contract."""
    if (chain_id, contract.lower()) != (link.chain.chain_id, link.chain.address.lower()):
        raise BadRequest("the request is for another chain or contract", code="wrong_chain")
