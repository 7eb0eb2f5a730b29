"""Cheap checks that several participant handlers share, all before any engine work.

- `round_announcement`: the signed announcement a judge or verify request refers to
  (carried in the request or found in this node's log) is a real one: an `announce`
  of that round whose signature recovers, whose sender is a registered member, and
  whose round id derives from that sender and its nonce (`reputation.draws`), so
  nobody makes a round up for free work, or in another coordinator's name;
- `check_prompt`: a round's conversation is within `round.max_prompt_chars`, the same
  limit a client's request meets;
- `refuse`: a 403 for a request that is not this node's to serve.
"""

from typing import Any

from node.context import NodeContext
from node.errors import BadRequest, MessageRejected, NotFound, UnknownSender
from reputation.draws import announced_by
from reputation.envelope import recover_sender
from reputation.messages import AnnouncePayload, payload_of

__all__ = ["check_derived", "check_prompt", "refuse", "round_announcement"]


def round_announcement(
    ctx: NodeContext, announce: Any, round_id: str
) -> tuple[dict[str, Any], AnnouncePayload]:
    """`announce` and its payload if it is round `round_id`'s genuine announcement by a
    registered member; 404 `unknown_round` when there is none, 401 for a forged one,
    403 `unknown_announcer` for one by a non-member, 400 otherwise."""
    if announce is None:
        raise NotFound(
            f"unknown round {round_id}: no announcement sent or logged", code="unknown_round"
        )
    if not isinstance(announce, dict) or announce.get("type") != "announce":
        raise BadRequest("expected the round's signed 'announce' message")
    announcer = recover_sender(announce)  # InvalidSignature → 401
    if announce.get("round_id") != round_id:
        raise BadRequest("the announcement belongs to another round")
    if announcer.lower() not in {a.lower() for a in ctx.peers.registered()}:
        err = UnknownSender(f"the round's announcer {announcer} is not a registered node")
        err.code = "unknown_announcer"
        raise err
    announced = payload_of(AnnouncePayload, announce)
    check_derived(round_id, announced, announcer)
    return announce, announced


def check_derived(round_id: Any, announced: AnnouncePayload, announcer: str) -> None:
    """400 unless `round_id` derives from the announcer and its nonce
    (`reputation.draws.announced_by`): nobody announces a round in another's name."""
    if not announced_by(
        round_id, announced.chat(), announced.max_tokens, announcer, announced.nonce
    ):
        raise BadRequest("the round id does not derive from the announcer and its nonce")


def check_prompt(ctx: NodeContext, chat: list[dict[str, str]]) -> None:
    """400 `context_length_exceeded` for a conversation over `round.max_prompt_chars`."""
    size = sum(len(m["content"]) for m in chat)
    limit = ctx.config.round.max_prompt_chars
    if size > limit:
        raise BadRequest(
            f"the round's conversation has {size} characters; this node's limit is {limit}",
            code="context_length_exceeded",
        )


def refuse(message: str) -> MessageRejected:
    """A `MessageRejected` (403) saying why a request is not this node's to serve."""
    err = MessageRejected(message)
    err.status = 403
    return err
