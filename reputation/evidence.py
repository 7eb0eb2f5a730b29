"""Equivocation: two different signed messages of one kind, for one round, by one sender.

A sender may send one message per (type, round). Some types are about one
subject among several of a round, and the subject joins the key
(`SUBJECT_FIELDS`): a verification request is about one answer
(`payload.subject`, its digest), and a verification answers one request about
it (`payload.request`); a judge request goes to one judge
(`payload.judge`) in the coordinator's first attempt or its one re-assignment
after a judge failed (`payload.attempt`); a verdict answers one judge request
(`payload.request`, its digest). Two different signed messages under one key
are equivocation: the pair proves it by itself, whoever holds it, so it is kept
in the log as slashing evidence (the chain will check it the same way).

The keys are chosen so that an honest node cannot be framed: every message an
honest coordinator sends in a round differs from the others in its key (a judge
forwarding its own request to another judge hands over a message of another
key), and a participant only answers a round whose id derives from the
announcer (`reputation.draws.round_id_for`), so nobody can make it answer one
round twice.
"""

from typing import Any

from reputation.envelope import EnvelopeError, digest, recover_sender

__all__ = ["SUBJECT_FIELDS", "InvalidEvidence", "check_equivocation", "message_key"]

SUBJECT_FIELDS = {
    "verify_request": ("subject",),
    "verification": ("subject", "request"),
    "judge_request": ("judge", "attempt"),
    "verdict": ("request",),
}

Key = tuple[str, str | None, str, str | None]


class InvalidEvidence(EnvelopeError):
    """A pair of messages that does not prove equivocation."""


def message_key(message: dict[str, Any], sender: str) -> Key:
    """The key under which a sender may send only one message."""
    kind = str(message["type"])
    fields = SUBJECT_FIELDS.get(kind)
    if fields is None:
        return kind, message["round_id"], sender.lower(), None
    subject = "/".join(str(message["payload"].get(f)) for f in fields)
    return kind, message["round_id"], sender.lower(), subject


def check_equivocation(first: dict[str, Any], second: dict[str, Any]) -> str:
    """The equivocating sender's address, if `first` and `second` prove equivocation;
    `InvalidEvidence` (or `InvalidSignature`) if they do not."""
    a, b = recover_sender(first), recover_sender(second)
    if a.lower() != b.lower():
        raise InvalidEvidence("the two messages have different senders")
    if message_key(first, a) != message_key(second, b):
        raise InvalidEvidence("the two messages differ in type, round or subject")
    if digest(first) == digest(second):
        raise InvalidEvidence("the two messages are the same message")
    return a
