"""Timeouts scale with the measured speed of the engine, unless the operator sets them."""

from node.config import NodeConfig, RoundConfig, VerificationConfig
from node.inference.speed import Speed
from node.round.timeouts import answer_timeout, judge_timeout, verify_timeout

FAST = Speed(seconds_per_token=0.01, seconds_per_char=0.0001)
SLOW = Speed(seconds_per_token=0.1, seconds_per_char=0.003)  # bf16 on an AVX2-only CPU


def test_a_slower_engine_gets_proportionally_longer_timeouts() -> None:
    config = NodeConfig()
    floor, margin = config.round.timeout_floor, config.round.timeout_margin
    fast, slow = (
        answer_timeout(config, FAST, 100, 256, 3),
        answer_timeout(config, SLOW, 100, 256, 3),
    )
    assert fast == floor + margin * 3 * (100 * 0.0001 + 256 * 0.01)
    assert slow > 9 * (fast - floor)
    # The judging of a round whose prompts total 12,000 characters, at 2.7 s a verdict
    # of ~900 characters (the figure that made the old fixed 60 s time out):
    assert judge_timeout(config, SLOW, 12_000) > 12_000 * 0.003 > 30
    assert verify_timeout(config, SLOW, 100, 64, True, 3) > verify_timeout(
        config, SLOW, 100, 64, False, 3
    )


def test_configured_timeouts_are_used_as_they_are() -> None:
    config = NodeConfig(
        round=RoundConfig(answer_timeout=7, judge_timeout=8),
        verification=VerificationConfig(timeout=9),
    )
    assert answer_timeout(config, SLOW, 100, 256, 3) == 7
    assert judge_timeout(config, SLOW, 10**6) == 8
    assert verify_timeout(config, SLOW, 100, 256, True, 3) == 9
