"""The reputation rules: placement, agreement, penalties, decay, per-topic shrinkage,
draw weights and what is at risk (pure functions, checked on hand-made results)."""

import math

import pytest

from reputation.result import SwarmResult
from reputation.rules import (
    ANSWER_WEIGHT,
    HALF_LIFE,
    JUDGE_WEIGHT,
    PENALTY,
    agreement_points,
    at_risk,
    decayed,
    draw_weight,
    placement,
    points_fixed,
    round_points,
    shrink,
)

A, B, C, J = "0xA", "0xB", "0xC", "0xJ"


def result(
    scores: list[float],
    authors: list[list[str]],
    judges: list[tuple[str, float, float]] = (),  # type: ignore[assignment]
    failed: tuple[int, ...] = (),
) -> SwarmResult:
    candidates = [
        {
            "candidate": i,
            "node": nodes[0],
            "nodes": nodes,
            "digest": "0x00",
            "score": s,
            "stderr": 0.1,
            "interval": [s - 0.2, s + 0.2],
            "answers": ["0x01"],
        }
        for i, (s, nodes) in enumerate(zip(scores, authors, strict=True))
    ]
    best = max(range(len(scores)), key=scores.__getitem__)
    return SwarmResult.model_validate(
        {
            "round_id": "0x01",
            "coordinator": J,
            "announce": "0x02",
            "prompt_hash": "0x03",
            "winner": {
                "candidate": best,
                "node": authors[best][0],
                "digest": "0x00",
                "verification": "failed" if best in failed else "passed",
            },
            "candidates": candidates,
            "decided_by": "judges",
            "verification": [
                {
                    "candidate": i,
                    "node": authors[i][0],
                    "answer": "0x01",
                    "status": "failed" if i in failed else "passed",
                    "methods": ["teacher_forced"],
                }
                for i in range(len(scores))
            ],
            "judges": [
                {"node": n, "verdicts": 2, "reliability": 0.9, "agreed": a, "disagreed": d}
                for n, a, d in judges
            ],
        }
    )


def test_placement_follows_the_bt_scores_not_only_the_win() -> None:
    shares = placement([2.0, 1.9, -3.0])
    assert shares[0] > shares[1] > 0.5 > shares[2]
    assert shares[0] - shares[1] < 0.05  # a close second earns nearly the winner's share
    assert sum(shares) == pytest.approx(1.5)  # each pair's probabilities sum to one
    assert placement([0.3]) == [0.5] and placement([]) == []
    assert placement([1.0, 1.0]) == [0.5, 0.5]


def test_answer_points_by_placement_shared_by_a_group_of_identical_answers() -> None:
    points = round_points(result([1.0, -1.0], [[A, C], [B]]))
    won = ANSWER_WEIGHT * (2 * (1 / (1 + math.exp(-2.0))) - 1)
    assert points[A] == pytest.approx(won) and points[C] == pytest.approx(won)
    assert points[B] == pytest.approx(-won)
    assert round_points(result([0.0], [[A]])) == {}  # one candidate: nothing to place


def test_judges_earn_their_agreement_with_the_round_consensus() -> None:
    assert agreement_points(3.0, 1.0) == pytest.approx(JUDGE_WEIGHT * 0.5)
    assert agreement_points(0.0, 2.0) == -JUDGE_WEIGHT
    assert agreement_points(0.0, 0.0) == 0.0  # no weight, no evidence
    points = round_points(result([1.0, 0.0], [[A], [B]], [(J, 2.0, 0.0), (C, 0.0, 2.0)]))
    assert points[J] == JUDGE_WEIGHT and points[C] == -JUDGE_WEIGHT


def test_a_failed_verification_costs_far_more_than_a_lost_round() -> None:
    points = round_points(result([3.0, -3.0], [[A], [B]], failed=(0,)))
    assert points[A] == PENALTY  # the winner's placement does not count
    worst_honest = -(ANSWER_WEIGHT + JUDGE_WEIGHT)
    assert 10 * worst_honest >= PENALTY
    risk = at_risk(10**18, 1000)
    assert risk.stake_wei == 10**17 and risk.points_if_caught == PENALTY
    assert risk.points_at_most == worst_honest


def test_decay_halves_each_half_life_toward_the_prior() -> None:
    history = [(0.0, 4.0), (HALF_LIFE, -2.0)]
    assert decayed(history, HALF_LIFE) == pytest.approx(2.0 - 2.0)
    assert decayed(history, 3 * HALF_LIFE) == pytest.approx(0.5 - 0.5)
    assert decayed([(0.0, 4.0)], 10 * HALF_LIFE) < 0.004  # idle: back to the prior
    assert decayed([(100.0, 4.0)], 0.0) == 4.0  # a time ahead of now counts as now


def test_per_topic_records_shrink_toward_the_overall_one() -> None:
    assert shrink(0.2, 0.0, 0.9) == 0.9  # no history in the topic: the overall rate
    assert shrink(0.2, 10.0, 0.9) == pytest.approx(0.55)  # as much as the shrinkage
    assert abs(shrink(0.2, 1000.0, 0.9) - 0.2) < 0.01  # a long history speaks for itself
    assert shrink(0.2, 2.0, 0.9) > shrink(0.2, 20.0, 0.9)


def test_draw_weight_follows_stake_so_identities_buy_nothing() -> None:
    one = draw_weight(4 * 10**18, 0.0)
    split = sum(draw_weight(10**18, 0.0) for _ in range(4))
    assert one == pytest.approx(split) == pytest.approx(4.0)
    assert draw_weight(10**18, 10.0) > draw_weight(10**18, 0.0) > draw_weight(10**18, PENALTY)
    assert draw_weight(10**18, 1e6) <= 2.0 and draw_weight(0, 50.0) == 0.0


def test_fixed_point_is_rounded_so_co_signers_agree() -> None:
    assert points_fixed(0.1 + 0.2) == points_fixed(0.3) == 3 * 10**17
    assert points_fixed(PENALTY) == -20 * 10**18
