"""Phase 5 on its own: confidence-weighted verdicts, and the fallback without verdicts."""

import pytest

from node.round.ranking import rank
from node.round.values import Candidate, Comparison, Judgments


def candidates(n: int) -> list[Candidate]:
    return [Candidate(i, None, [f"0x{i}"], [f"0xa{i}"], f"0xd{i}") for i in range(n)]  # type: ignore[arg-type]


def both_orders(judge: str, a: int, b: int, p: float, mass: float) -> list[Comparison]:
    return [Comparison(judge, a, b, p, mass), Comparison(judge, b, a, 1 - p, mass)]


def test_an_unreadable_verdict_weighs_nothing() -> None:
    informative = [
        *both_orders("0xj1", 0, 1, 0.9, 0.8),
        *both_orders("0xj2", 1, 2, 0.8, 0.7),
        *both_orders("0xj3", 0, 2, 0.7, 0.9),
    ]
    # The same judges' unreadable verdicts (a tie with no probability mass) on top.
    unreadable = [*both_orders("0xj1", 0, 2, 0.5, 0.0), *both_orders("0xj2", 0, 1, 0.5, 0.0)]
    alone = rank(candidates(3), Judgments(informative, "judges"), {})
    with_ties = rank(candidates(3), Judgments(informative + unreadable, "judges"), {})
    assert with_ties.scores == pytest.approx(alone.scores, abs=1e-9)
    assert with_ties.order == alone.order == [0, 1, 2]


def test_a_confident_verdict_outweighs_an_unsure_one() -> None:
    verdicts = [*both_orders("0xj1", 0, 1, 0.9, 0.95), *both_orders("0xj2", 0, 1, 0.1, 0.05)]
    ranked = rank(candidates(2), Judgments(verdicts, "judges"), {})
    assert ranked.order == [0, 1] and ranked.scores[0] > ranked.scores[1]


def test_without_verdicts_the_most_authors_lead() -> None:
    cands = candidates(3)
    cands[2] = Candidate(2, None, ["0xa", "0xb"], ["0xa2", "0xb2"], "0xd2")  # type: ignore[arg-type]
    ranked = rank(cands, Judgments([], "agreement"), {})
    assert ranked.order == [2, 0, 1] and ranked.decided_by == "agreement"
    assert ranked.scores == [0.0, 0.0, 0.0]
