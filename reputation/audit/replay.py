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
from reputation.audit.findings import Finding
from reputation.audit.rounds import RoundAudit, RoundMessages, audit_round
from reputation.epoch import EpochPayload, default_epoch, rebuild
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
) -> tuple[list[RoundAudit], list[Finding]]:
    """Recompute each of `owner`'s rounds whose announcement `wanted` accepts; `log`
    is the `ConsensusLog` the entries came from (read at epochs). Also returns what
    is wrong between rounds: an epoch that is not a node's, a result or epoch signed
    by another key than the owner's, a result of no announced round, parameters that
    change between two epochs (a node's settings change only when it restarts)."""
    me = owner.lower()
    rounds: dict[str, RoundMessages] = {}
    for c in checked:
        if c.entry.round_id:
            rounds.setdefault(c.entry.round_id, RoundMessages(c.entry.round_id)).messages.append(c)
    announced = [c for c in checked if c.entry.type == "announce" and c.entry.sender.lower() == me]
    announced_ids = {c.entry.round_id for c in announced}
    total = sum(1 for c in announced if wanted(c))
    book, topics, known = JudgeBook(), None, False
    at: dict[str, tuple[dict[str, JudgeRecord], TopicModel | None, bool]] = {}
    out: list[RoundAudit] = []
    findings: list[Finding] = []
    parameters: Any = None
    default = default_epoch()

    def run(rid: str) -> None:
        records, model, seen = at.pop(rid)
        audit = audit_round(rounds[rid], me, records, model, seen)
        if audit is not None:
            out.append(audit)
            progress(len(out), total)

    for c in checked:
        kind, rid = c.entry.type, c.entry.round_id
        if c.entry.sender.lower() != me:
            if kind in ("epoch", "result"):
                findings.append(
                    Finding(
                        "signature",
                        f"a {kind} signed by {c.entry.sender}, not the owner",
                        rid,
                        c.entry.seq,
                    )
                )
            continue
        if kind == "epoch":
            try:
                epoch = payload_of(EpochPayload, c.message)
            except (ValueError, TypeError, KeyError):
                epoch = None
            if (
                epoch is None
                or epoch.model_copy(update={"min_prompts": default.min_prompts}) != default
            ):
                findings.append(
                    Finding("records", "an epoch with settings no node uses", None, c.entry.seq)
                )
                continue
            try:
                topics, book = rebuild(log, owner, epoch, before=c.entry.seq)
            except Exception as exc:  # the log before it holds what no node wrote
                findings.append(
                    Finding(
                        "records",
                        f"the records and topics before this epoch cannot be rebuilt: "
                        f"{type(exc).__name__}: {exc}",
                        None,
                        c.entry.seq,
                    )
                )
                topics, book, known, parameters = None, JudgeBook(), False, None
                continue
            known, parameters = True, None
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
            elif rid not in announced_ids:
                findings.append(
                    Finding(
                        "answers", "a result of a round the owner never announced", rid, c.entry.seq
                    )
                )
            if result is not None:
                book.add(result.judges, result.topic_key())
                if parameters is not None and result.parameters not in (None, parameters):
                    findings.append(
                        Finding(
                            "draw",
                            "parameters differ from the earlier rounds' since the node started",
                            rid,
                            c.entry.seq,
                        )
                    )
                parameters = result.parameters or parameters
    for rid in list(at):  # rounds with no result: failed, or cut short
        run(rid)
    return out, findings
