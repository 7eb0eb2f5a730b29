import math

import pytest

from ranking import VERDICT_PREFIX, VerdictUnreadable, judge_messages, verdict_from_logprobs


def test_prompt_shows_both_answers_and_ends_with_the_prefill() -> None:
    msgs = judge_messages([{"role": "user", "content": "2+2?"}], "four", "five")
    assert msgs[-1] == {"role": "assistant", "content": VERDICT_PREFIX}
    body = msgs[0]["content"]
    assert "2+2?" in body and body.index("four") < body.index("five")


def test_verdict_renormalises_over_the_two_tokens() -> None:
    v = verdict_from_logprobs({"1": math.log(0.6), "2": math.log(0.2), "3": math.log(0.1)})
    assert v.p_first == pytest.approx(0.75)
    assert v.mass == pytest.approx(0.8)


def test_verdict_sums_token_variants() -> None:
    v = verdict_from_logprobs({"1": math.log(0.3), " 1": math.log(0.1), "2": math.log(0.4)})
    assert v.p_first == pytest.approx(0.5)


def test_unreadable_verdict() -> None:
    with pytest.raises(VerdictUnreadable):
        verdict_from_logprobs({"The": -0.1, "A": -2.0})
