from hypothesis import given, settings
from hypothesis import strategies as st

from verification.base import majority
from verification.teacher_forced import (
    GREEDY_TOLERANCE,
    SAMPLED_TOLERANCE,
    SHAPE_FAILURE,
    Forced,
    TokenScore,
    assess,
)

GREEDY = {"temperature": 0.0, "max_tokens": 8}
SAMPLED = {"temperature": 0.5, "max_tokens": 8}


def forced(gaps: list[float], stopped: bool = True, text: str = "x") -> Forced:
    return Forced(text, [TokenScore(-1.0 - g, 1 if g == 0 else 2, -1.0) for g in gaps], stopped)


def test_every_token_the_argmax_passes_with_score_zero() -> None:
    result = assess("x", GREEDY, forced([0, 0, 0]))
    assert result.passed and result.score == 0.0 and result.evidence["not_top"] == 0


def test_a_near_tie_passes_a_greedy_claim_and_a_clear_miss_fails_it() -> None:
    assert assess("x", GREEDY, forced([0, GREEDY_TOLERANCE * 0.5, 0])).passed
    failed = assess("x", GREEDY, forced([0, GREEDY_TOLERANCE * 3, 0]))
    assert not failed.passed and failed.evidence["worst"]["position"] == 1
    assert failed.score == -GREEDY_TOLERANCE * 3


def test_the_sampled_tolerance_scales_with_temperature() -> None:
    limit = SAMPLED_TOLERANCE * SAMPLED["temperature"]
    assert assess("x", SAMPLED, forced([limit * 0.9])).passed
    assert not assess("x", SAMPLED, forced([limit * 1.1])).passed
    assert not assess("x", GREEDY, forced([limit * 0.9])).passed


def test_text_that_is_not_its_token_ids_fails() -> None:
    result = assess("claimed", GREEDY, forced([0], text="decoded"))
    assert (
        not result.passed and result.score == SHAPE_FAILURE and "text" in result.evidence["reason"]
    )


def test_length_rules() -> None:
    assert not assess("x", GREEDY, forced([0] * 9)).passed  # over max_tokens
    assert assess("x", GREEDY, forced([0] * 8, stopped=False)).passed  # hit max_tokens
    cut = assess("x", GREEDY, forced([0] * 5, stopped=False))
    assert not cut.passed and "cut short" in cut.evidence["reason"]


def test_majority_of_verifiers() -> None:
    assert majority([True, True, False]) is True
    assert majority([True, False]) is False
    assert majority([False]) is False
    assert majority([]) is None


def _results(tf: bool, rex: bool | None, excess: float = -5.0) -> dict:
    """`excess`: the sampling excess against a limit of 10 (`verification.sampling`)."""
    evidence = {"gap_excess": excess, "gap_limit": 10.0}
    out = {"teacher_forced": {"passed": tf, "score": 0.0, "evidence": evidence}}
    if rex is not None:
        out["reexecution"] = {"passed": rex, "score": 0.0, "evidence": {}}
    return out


def test_policy_votes() -> None:
    from verification.policy import accept

    assert not accept(_results(False, True), 0.7, False)  # teacher-forced failure decides
    assert accept(_results(True, None), 0.0, True)  # greedy: the prefill decides
    assert accept(_results(True, False), 0.0, False)
    assert accept(_results(True, True), 0.7, True)  # reproduced with its seed
    # Re-execution diverged: honest engine noise, unless the answer is a flagged copy
    # or its tokens sit far from the argmax.
    assert accept(_results(True, False, 9.9), 0.7, False)
    assert not accept(_results(True, False, 0.2), 0.7, True)
    assert not accept(_results(True, False, 10.1), 0.7, False)


@settings(max_examples=300, deadline=None)
@given(
    st.booleans(),
    st.sampled_from([None, True, False]),
    st.floats(-20.0, 20.0),
    st.sampled_from([0.0, 0.2, 0.7, 1.3]),
    st.booleans(),
)
def test_re_execution_is_skipped_only_where_it_cannot_change_the_vote(
    tf: bool, rex: bool | None, gap: float, temperature: float, flagged: bool
) -> None:
    from verification.policy import accept, reexecution_decides

    results = _results(tf, rex, gap)
    if not reexecution_decides(results["teacher_forced"], temperature, flagged):
        without = {"teacher_forced": results["teacher_forced"]}
        assert accept(results, temperature, flagged) == accept(without, temperature, flagged)


def test_re_execution_decides_only_doubtful_sampled_answers() -> None:
    from verification.policy import reexecution_decides

    forced = _results(True, None, 3.0)["teacher_forced"]
    assert not reexecution_decides(forced, 0.7, False)  # an ordinary honest sample
    assert reexecution_decides(forced, 0.7, True)  # a flagged copy
    far = _results(True, None, 10.1)["teacher_forced"]
    assert reexecution_decides(far, 0.7, False)
    assert not reexecution_decides(far, 0.0, True)  # greedy: the prefill decides
    assert not reexecution_decides(_results(False, None)["teacher_forced"], 0.7, True)
    unknown = {"passed": True, "score": 0.0, "evidence": {}}  # no top log-probabilities
    assert not reexecution_decides(unknown, 0.7, False) and reexecution_decides(unknown, 0.7, True)


def test_a_character_cut_at_max_tokens_is_not_a_text_mismatch() -> None:
    cut = Forced("ab\ufffd", [TokenScore(-0.1, 1, -0.1)] * 8, False)
    assert assess("ab", GREEDY, cut).passed


def test_only_a_cut_character_at_the_end_is_forgiven() -> None:
    from verification.teacher_forced import same_text

    assert same_text("🌟 \ufffd", "🌟") and same_text("ab\ufffd", "ab")
    assert not same_text("ab", "abc") and not same_text("a\ufffdb", "ab")
