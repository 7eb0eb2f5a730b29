import pytest

from ranking.consensus import RECORD_CAP, JudgeRecord, rank_round


def _round(records: dict[str, JudgeRecord]):
    # Candidates 0 and 1; judges A and B prefer 0 in both orders, judge C prefers 1.
    first = [0, 1, 0, 1, 0, 1]
    second = [1, 0, 1, 0, 1, 0]
    p_first = [0.9, 0.1, 0.8, 0.2, 0.05, 0.95]
    judges = ["A", "A", "B", "B", "C", "C"]
    return rank_round(2, first, second, p_first, judges, records, prior=0.1)


def test_the_majority_of_equally_reputed_judges_wins_and_the_dissenter_loses_reliability() -> None:
    r = _round({})
    assert r.scores[0] > r.scores[1]
    assert r.reliability["C"] < min(r.reliability["A"], r.reliability["B"])
    for (low, high), s in zip(r.interval, r.scores, strict=True):
        assert low < s < high
    assert r.agreement["A"].agreed > r.agreement["C"].agreed
    assert r.agreement["C"].agreed + r.agreement["C"].disagreed == pytest.approx(2)


def test_a_judge_with_a_strong_record_outweighs_two_with_bad_ones() -> None:
    records = {
        "A": JudgeRecord(2, 30),
        "B": JudgeRecord(2, 30),
        "C": JudgeRecord(35, 1),
    }
    r = _round(records)
    assert r.scores[1] > r.scores[0]


def test_records_are_capped_so_data_can_still_move_a_judge() -> None:
    big = JudgeRecord(900, 100).capped()
    assert big.agreed + big.disagreed == pytest.approx(RECORD_CAP)
    assert big.agreed / RECORD_CAP == pytest.approx(0.9)
    assert JudgeRecord(3, 1).capped() == JudgeRecord(3, 1)
