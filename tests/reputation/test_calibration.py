"""The calibration bank and the scoring of calibration replies (pure)."""

import pytest

from reputation.bank import ANSWER_SUBSET, build, in_bank, load_bank
from reputation.calibration import (
    ALLOWED_CHECK_FAILURES,
    MEAN_TOLERANCE,
    PASS_SCORE,
    Scorecard,
    answer_value,
    means_agree,
)


def test_the_shipped_bank_holds_both_kinds_and_names_its_pairs() -> None:
    bank = load_bank()
    assert len(bank.judging) > 200 and len(bank.answering) > 50
    assert all(c.better != c.worse for c in bank.judging)
    assert all(c.answer.isdigit() for c in bank.answering)
    assert all(in_bank(pid, pid.split("#")[0]) for pid in bank.pair_ids)


def test_the_split_is_fixed_by_the_pair_id() -> None:
    ids = [f"LLMBar/Natural#{i}" for i in range(2000)]
    share = sum(in_bank(i, "LLMBar/Natural") for i in ids) / len(ids)
    assert 0.17 < share < 0.23
    assert [in_bank(i, "x") for i in ids[:50]] == [in_bank(i, "y") for i in ids[:50]]
    assert in_bank("anything", ANSWER_SUBSET)


def test_a_built_bank_pairs_each_instruction_with_a_foreign_answer() -> None:
    rows = [
        {
            "pair_id": f"S{s}#{i}",
            "subset": f"S{s}",
            "input": f"q{s}{i}",
            "output_1": f"a{s}{i}",
            "output_2": "worse",
            "gold": 1,
        }
        for s in range(3)
        for i in range(40)
    ] + [
        {
            "pair_id": "B#1",
            "subset": ANSWER_SUBSET,
            "input": "what is 75+48? think",
            "output_1": "",
            "output_2": "",
            "gold": 1,
        }
    ]
    bank = build(rows)
    assert bank.answering[0].answer == "123"
    for c in bank.judging:
        own = c.instruction[1:]
        assert c.better == "a" + own and c.worse.startswith("a") and c.worse[1] != own[0]


def test_draws_are_seeded_by_the_session() -> None:
    bank = load_bank()
    assert bank.draw(b"s1", 5, 2) == bank.draw(b"s1", 5, 2)
    assert bank.draw(b"s1", 5, 2) != bank.draw(b"s2", 5, 2)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5+8=13, carry 1... so \\boxed{123}.", "123"),
        ("The sum is 123", "123"),
        ("\\boxed{ 99 } then 7", "99"),
        ("no digits", None),
    ],
)
def test_the_answer_is_the_boxed_or_last_number(text: str, value: str | None) -> None:
    assert answer_value(text) == value


def test_reported_means_must_be_the_attesters_own() -> None:
    assert means_agree([-1.0, -2.0], [-1.0 + MEAN_TOLERANCE / 2, -2.0])
    assert not means_agree([-1.0, -2.0], [-1.0 - 2 * MEAN_TOLERANCE, -2.0])
    assert not means_agree([float("nan"), -2.0], [-1.0, -2.0])
    assert not means_agree([-1.0], [-1.0, -2.0])


def test_a_failed_check_makes_a_result_wrong_and_too_many_fail_the_node() -> None:
    card = Scorecard()
    for _ in range(9):
        card.judged(True, True)
    card.answered(True, False, "text differs from its token ids")
    assert card.score == 9000 and card.check_failures == 1 and card.passed
    card.answered(True, False, "again")
    assert card.check_failures / card.total > ALLOWED_CHECK_FAILURES and not card.passed
    assert card.reasons == ["text differs from its token ids", "again"]


def test_a_score_below_the_threshold_fails() -> None:
    card = Scorecard()
    for i in range(20):
        card.judged(i < 20 * PASS_SCORE // 10_000 - 1, True)
    assert card.checks_hold and card.score < PASS_SCORE and not card.passed
    assert not Scorecard().passed
