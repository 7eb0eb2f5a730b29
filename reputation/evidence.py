"""Equivocation: two different signed messages of one kind, for one round, by one sender.

A sender may send one message per (type, round). Some types are about one
subject among several of a round, and the subject joins the key
(`SUBJECT_FIELD`): verification requests and replies are about one answer
(`payload.subject`, its digest); a judge request is the coordinator's first
attempt or its one re-assignment after a judge failed (`payload.attempt`), and
a verdict answers one judge request (`payload.request`, its digest). Two
different signed messages under one key are equivocation: the pair proves it by
itself, whoever holds it, so it is kept in the log as slashing evidence (the
chain will check it the same way).
"""

from typing import Any

from reputation.envelope import EnvelopeError, digest, recover_sender

__all__ = ["SUBJECT_FIELD", "InvalidEvidence", "check_equivocation", "message_key"]

SUBJECT_FIELD = {
    "verify_request": "subject",
    "verification": "subject",
    "judge_request": "attempt",
    "verdict": "request",
}

Key = tuple[str, str | None, str, str | None]


class InvalidEvidence(EnvelopeError):
    """A pair of messages that does not prove equivocation."""


def message_key(message: dict[str, Any], sender: str) -> Key:
    """The key under which a sender may send only one message."""
    kind = str(message["type"])
    field = SUBJECT_FIELD.get(kind)
    subject = message["payload"].get(field) if field else None
    return kind, message["round_id"], sender.lower(), None if subject is None else str(subject)


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
