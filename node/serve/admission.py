"""The first thing every participant handler does: check the incoming signed message."""

from typing import Any

from node.context import NodeContext
from node.errors import MessageRejected

__all__ = ["accept_message"]


def accept_message(
    ctx: NodeContext, message: Any, kind: str, once: bool = True, members_only: bool = True
) -> str:
    """The guard's check of an incoming signed message, counting refusals; its digest."""
    try:
        return ctx.guard.check(message, kind, once=once, members_only=members_only)
    except MessageRejected as exc:
        ctx.metrics.rejected.labels(exc.code).inc()
        raise
