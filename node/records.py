"""Judges' records from past rounds' consensus, read back from the consensus log.

Until on-chain reputation exists, a judge's prior reliability in a round comes
from this node's own log: over the latest `RECORD_ROUNDS` rounds it
coordinated, how much of each judge's verdict weight agreed with the consensus
ranking of its round (`judges[].agreed` / `judges[].disagreed` in each result).
Reading it from the log means a restarted node keeps its judges' records.
"""

from ranking.consensus import JudgeRecord
from reputation.log import ConsensusLog

__all__ = ["RECORD_ROUNDS", "judge_records"]

RECORD_ROUNDS = 200


def judge_records(log: ConsensusLog, rounds: int = RECORD_ROUNDS) -> dict[str, JudgeRecord]:
    totals: dict[str, list[float]] = {}
    for result in log.recent_results(rounds):
        for judge in result.get("swarm", {}).get("judges", []):
            t = totals.setdefault(judge["node"], [0.0, 0.0])
            t[0] += float(judge.get("agreed", 0.0))
            t[1] += float(judge.get("disagreed", 0.0))
    return {node: JudgeRecord(a, d) for node, (a, d) in totals.items()}
