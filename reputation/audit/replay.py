"""The owner's rounds replayed in log order, with the judges' records and topic
clusters the owner had at each one (`reputation.epoch`).

Walking the checked entries in order: at each of the owner's `epoch` messages the
records and clusters are rebuilt from the log before it, as the node rebuilt them
at start; at each of its announcements the round's records are taken; at each of
its results the round is recomputed (`reputation.audit.rounds`) and its judges
join the records. A log with no epoch before a round (written by a version before
the audit) replays from empty records, and its inferred topics are not checked.
"""

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from ranking.consensus import JudgeRecord
from reputation.audit.entries import Checked
from reputation.audit.rounds import RoundAudit, RoundMessages, audit_round
from reputation.epoch import EpochPayload, rebuild
from reputation.messages import payload_of
from reputation.records import JudgeBook
from reputation.result import SwarmResult, topic_key
from reputation.topics import TopicModel

__all__ = ["replay"]

Progress = Callable[[int, int], None]


def replay(
    checked: Sequence[Checked],
    owner: str,
    log: Any,
    wanted: Callable[[Checked], bool] = lambda _: True,
    progress: Progress = lambda done, total: None,
) -> list[RoundAudit]:
    """Recompute each of `owner`'s rounds whose announcement `wanted` accepts; `log`
    is the `ConsensusLog` the entries came from (read at epochs)."""
    me = owner.lower()
    rounds: dict[str, RoundMessages] = {}
    for c in checked:
        if c.entry.round_id:
            rounds.setdefault(c.entry.round_id, RoundMessages(c.entry.round_id)).messages.append(c)
    announced = [c for c in checked if c.entry.type == "announce" and c.entry.sender.lower() == me]
    total = sum(1 for c in announced if wanted(c))
    book, topics, known = JudgeBook(), None, False
    at: dict[str, tuple[dict[str, JudgeRecord], TopicModel | None, bool]] = {}
    out: list[RoundAudit] = []

    def run(rid: str) -> None:
        records, model, seen = at.pop(rid)
        audit = audit_round(rounds[rid], me, records, model, seen)
        if audit is not None:
            out.append(audit)
            progress(len(out), total)

    for c in checked:
        kind, rid = c.entry.type, c.entry.round_id
        if c.entry.sender.lower() != me:
            continue
        if kind == "epoch":
            try:
                epoch = payload_of(EpochPayload, c.message)
            except (ValueError, TypeError, KeyError):
                continue
            topics, book = rebuild(log, owner, epoch, before=c.entry.seq)
            known = True
        elif kind == "announce" and rid and wanted(c):
            p = c.message["payload"]
            key = topic_key(str(p.get("topic_source", "")), str(p.get("topic", "")))
            at[rid] = (book.records(key), topics, known)
        elif kind == "result" and rid:
            try:
                result = SwarmResult.model_validate(c.message["payload"])
            except (ValidationError, KeyError, TypeError):
                result = None
            if rid in at:
                run(rid)
            if result is not None:
                book.add(result.judges, result.topic_key())
    for rid in list(at):  # rounds with no result: failed, or cut short
        run(rid)
    return out
