from pathlib import Path
from typing import Any

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.consensus import JudgeRecord, shrunk
from reputation.envelope import sign_envelope
from reputation.log import ConsensusLog
from reputation.records import JudgeBook
from reputation.result import (
    CandidateScore,
    FailedRound,
    JudgeSummary,
    SettledRound,
    StoredRound,
    SwarmReply,
    Winner,
)
from reputation.rules import SHRINK


def judge(node: str, agreed: float, disagreed: float) -> JudgeSummary:
    return JudgeSummary(
        node=node,
        verdicts=round(agreed + disagreed),
        reliability=0.7,
        agreed=agreed,
        disagreed=disagreed,
    )


def settled(round_id: str, created: float, judges: list[JudgeSummary]) -> StoredRound:
    reply = SwarmReply(
        round_id=round_id,
        coordinator="0xc",
        announce="0xan",
        prompt_hash="0xp",
        winner=Winner(candidate=0, node="0xa", digest="0xd", verification="passed"),
        candidates=[
            CandidateScore(
                candidate=0,
                node="0xa",
                nodes=["0xa"],
                digest="0xd",
                score=0.0,
                stderr=1.0,
                interval=(-1.96, 1.96),
                answers=["0xans"],
            )
        ],
        decided_by="judges",
        judges=judges,
        log_digest="0xl",
    )
    return StoredRound(
        round_id=round_id,
        coordinator="0xc",
        created=created,
        status="ok",
        winner="0xa",
        result=SettledRound(swarm=reply, text="x", finish_reason="stop"),
    )


def test_records_sum_past_results_from_the_log_and_survive_a_reopen(tmp_path: Path) -> None:
    """The judges' records come from the results the owner signed, in log order (not
    another coordinator's, not a failed round's), and may stop before an entry."""
    owner, other = Account.create(), Account.create()

    def result(account: Any, rid: str, judges: list[JudgeSummary]) -> dict[str, Any]:
        payload = settled(rid, 0.0, judges).result.swarm.model_dump(mode="json")  # type: ignore[union-attr]
        return sign_envelope(account, "result", rid, payload)

    path = tmp_path / "log.db"
    log = ConsensusLog(path)
    log.append(result(owner, "r1", [judge("0xa", 2.0, 0.0), judge("0xb", 0.5, 1.5)]))
    log.append(result(other, "r0", [judge("0xa", 0.0, 9.0)]))
    cut = log.append(result(owner, "r2", [judge("0xa", 1.0, 1.0)])).seq
    log.record_round(
        StoredRound(
            round_id="r3",
            coordinator=owner.address,
            created=3.0,
            status="failed",
            winner=None,
            result=FailedRound(error="too few"),
        )
    )
    log.close()
    reopened = ConsensusLog(path)
    try:
        assert reopened.owner() == owner.address  # its latest round's coordinator
        book = JudgeBook.rebuilt(j for *_, j in reopened.judge_history(200, owner.address))
        assert book.records() == {"0xa": JudgeRecord(3.0, 1.0), "0xb": JudgeRecord(0.5, 1.5)}
        latest = JudgeBook.rebuilt(j for *_, j in reopened.judge_history(1, owner.address))
        assert latest.records() == {"0xa": JudgeRecord(1.0, 1.0)}
        before = JudgeBook.rebuilt(j for *_, j in reopened.judge_history(9, owner.address, cut))
        assert before.records() == {"0xa": JudgeRecord(2.0, 0.0), "0xb": JudgeRecord(0.5, 1.5)}
    finally:
        reopened.close()


def test_records_per_topic_are_shrunk_toward_the_judge_overall() -> None:
    book = JudgeBook()
    for _ in range(5):  # good at math, reliably wrong on code
        book.add([judge("0xa", 2.0, 0.0)], "client:math")
        book.add([judge("0xa", 0.0, 2.0)], "client:code")
    overall = book.records()["0xa"]
    assert overall == JudgeRecord(10.0, 10.0)
    math, code = book.records("client:math")["0xa"], book.records("client:code")["0xa"]
    assert math == JudgeRecord(10.0 + SHRINK * 0.5, SHRINK * 0.5)
    assert math.agreed / (math.agreed + math.disagreed) > 0.7
    assert code.agreed / (code.agreed + code.disagreed) < 0.3
    fresh = book.records("client:poetry")["0xa"]  # no history there: the overall rate
    assert fresh == JudgeRecord(SHRINK * 0.5, SHRINK * 0.5)
    assert shrunk(JudgeRecord(), JudgeRecord(8.0, 0.0)).agreed == SHRINK * 0.9


def test_calibration_anchors_the_records_overall_and_per_topic() -> None:
    book = JudgeBook()
    book.calibrate("0xn", {"": JudgeRecord(8.0, 2.0), "client:math": JudgeRecord(4.0, 0.0)})
    assert book.records() == {"0xn": JudgeRecord(8.0, 2.0)}  # calibrated, no rounds yet
    book.add([judge("0xn", 0.0, 2.0)], "client:math")
    assert book.records()["0xn"] == JudgeRecord(8.0, 4.0)
    overall_rate = 9.0 / 14.0
    assert book.records("client:math")["0xn"] == JudgeRecord(
        4.0 + SHRINK * overall_rate, 2.0 + SHRINK * (1 - overall_rate)
    )


def test_the_window_drops_the_oldest_round_and_forgets_judges_it_no_longer_holds() -> None:
    book = JudgeBook(window=2)
    book.add([judge("0xa", 2.0, 0.0), judge("0xb", 1.0, 1.0)])
    book.add([judge("0xa", 1.0, 1.0)])
    book.add([judge("0xc", 0.0, 2.0)])
    assert book.records() == {"0xa": JudgeRecord(1.0, 1.0), "0xc": JudgeRecord(0.0, 2.0)}
    assert len(book) == 2


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from("abcd"), st.integers(0, 4), st.integers(0, 4)),
            max_size=4,
            unique_by=lambda t: t[0],
        ),
        max_size=12,
    ),
    st.integers(1, 5),
)
def test_the_rolling_sum_equals_a_sum_over_the_window(rounds, window) -> None:
    book = JudgeBook(window)
    for r in rounds:
        book.add([judge(n, float(a), float(d)) for n, a, d in r])
    expected: dict[str, list[float]] = {}
    for r in rounds[-window:]:
        for n, a, d in r:
            total = expected.setdefault(n, [0.0, 0.0])
            total[0] += a
            total[1] += d
    assert book.records() == {n: JudgeRecord(a, d) for n, (a, d) in expected.items()}
