from pathlib import Path

from node.records import judge_records
from ranking.consensus import JudgeRecord
from reputation.log import ConsensusLog


def _result(judges: list[dict]) -> dict:
    return {"swarm": {"judges": judges}, "text": "x", "finish_reason": "stop"}


def test_records_sum_past_rounds_from_the_log_and_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    log = ConsensusLog(path)
    log.record_round(
        "r1",
        "0xc",
        1.0,
        "ok",
        "0xa",
        _result(
            [
                {"node": "0xa", "verdicts": 2, "agreed": 2.0, "disagreed": 0.0},
                {"node": "0xb", "verdicts": 2, "agreed": 0.5, "disagreed": 1.5},
            ]
        ),
    )
    log.record_round(
        "r2",
        "0xc",
        2.0,
        "ok",
        "0xa",
        _result(
            [
                {"node": "0xa", "verdicts": 2, "agreed": 1.0, "disagreed": 1.0},
            ]
        ),
    )
    log.record_round("r3", "0xc", 3.0, "failed", None, {"error": "too few", "left_out": []})
    log.close()
    reopened = ConsensusLog(path)
    try:
        records = judge_records(reopened)
        assert records == {"0xa": JudgeRecord(3.0, 1.0), "0xb": JudgeRecord(0.5, 1.5)}
        assert judge_records(reopened, rounds=1) == {"0xa": JudgeRecord(1.0, 1.0)}
    finally:
        reopened.close()
