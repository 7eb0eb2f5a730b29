"""Questions asked of a consensus log about one round: its announcement, its answers,
the answer a command should look at. Used by the verifier, `swarm verify` and the audit."""

import logging
from typing import Any

from reputation.bounded import JsonRefused, loads
from reputation.log import MAX_RAW_BYTES, ConsensusLog
from reputation.result import SettledRound
from swarm_errors import SwarmError

__all__ = ["NotInLog", "answer_of", "find_announce", "round_messages"]

log_ = logging.getLogger(__name__)


class NotInLog(SwarmError, LookupError):
    """The log does not hold what was asked for (or not unambiguously)."""

    def __init__(self, message: str, code: str = "not_found"):
        super().__init__(message)
        self.code = code


def round_messages(log: ConsensusLog, round_id: str, kind: str) -> list[dict[str, Any]]:
    """The round's logged messages of one type, in log order. Raw messages are read as
    bytes and parsed bounded (`reputation.bounded`): one that is not a JSON object
    within the bounds, or not UTF-8, is left out with a warning, never fatal."""
    rows = log.db.execute(
        "SELECT seq, CAST(raw AS BLOB) FROM messages WHERE round_id = ? AND type = ? ORDER BY seq",
        [round_id, kind],
    )
    out = []
    for seq, raw in rows:
        try:
            message = loads(raw or b"", MAX_RAW_BYTES)
        except JsonRefused as exc:
            log_.warning("entry %s of round %s does not parse, left out: %s", seq, round_id, exc)
            continue
        if isinstance(message, dict):
            out.append(message)
    return out


def find_announce(log: ConsensusLog, round_id: str) -> dict[str, Any] | None:
    found = round_messages(log, round_id, "announce")
    return found[0] if found else None


def answer_of(log: ConsensusLog, round_id: str, node: str | None = None) -> dict[str, Any]:
    """The signed answer `node` wrote in the round; without `node`, the winner's (from
    the round's result), or the only answer logged."""
    answers = round_messages(log, round_id, "answer")
    if not answers:
        raise NotInLog(f"round {round_id}: no answers in this log", code="unknown_round")
    if node is None:
        stored = log.round(round_id)
        if stored is not None and isinstance(stored.result, SettledRound):
            node = stored.result.swarm.winner.node
        elif len(answers) == 1:
            node = str(answers[0]["sender"])
        else:
            raise NotInLog(f"round {round_id} has no result in this log; pass --node")
    for answer in answers:
        if str(answer["sender"]).lower() == node.lower():
            return answer
    raise NotInLog(f"round {round_id}: no answer by {node} in this log")
