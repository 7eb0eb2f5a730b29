"""Admission limits as pure values: the derived rounds in flight, acquire-or-refuse
slots and the per-sender budgets (a clock the test turns, no waiting)."""

import pytest

from node.config import load_config
from node.errors import TooManyRequests
from node.inference.speed import Speed
from node.serve.limits import (
    MAX_DERIVED,
    OTHERS,
    InFlight,
    SenderBudgets,
    derived_in_flight,
    retry_seconds,
)

ALICE = "0x" + "aa" * 20


def test_the_derived_limit_is_the_answers_an_engine_finishes_within_an_answer_timeout() -> None:
    config = load_config(None, env={})
    slow = Speed(seconds_per_token=0.02, seconds_per_char=1e-4)  # a 2-core CPU, roughly
    one = 1000 * 1e-4 + config.sampling.max_tokens * 0.02  # 5.22 s an answer
    within = config.round.timeout_floor + config.round.timeout_margin * one
    assert derived_in_flight(config, slow) == int(within // one) == 13
    assert retry_seconds(config, slow) == 6
    assert derived_in_flight(config, Speed(1e-6, 1e-9)) == MAX_DERIVED  # a fast GPU
    # however slow, a scaled timeout allows `timeout_margin` answers' time
    assert derived_in_flight(config, Speed(5.0, 1e-2)) == config.round.timeout_margin
    fixed = load_config(None, env={}, overrides={"round": {"answer_timeout": 10.0}})
    assert derived_in_flight(fixed, slow) == 1  # 10 s holds one answer of 5.22 s


def test_a_full_limit_refuses_at_once_and_a_slot_is_given_back_once() -> None:
    seen: list[int] = []
    limit = InFlight("rounds", 2, 7.0, seen.append)
    first, second = limit.acquire(), limit.acquire()
    with pytest.raises(TooManyRequests) as refused:
        limit.acquire()
    assert refused.value.status == 429 and refused.value.retry_after == 7.0
    first.release()
    first.release()  # twice is once
    with limit.acquire():
        assert limit.count == 2
    second.release()
    assert limit.count == 0 and seen == [1, 2, 1, 2, 1, 0]


def test_sender_budgets_cap_in_flight_and_rate_and_strangers_share_one() -> None:
    now = [0.0]
    budgets = SenderBudgets(2, 1.0, 3, lambda: {ALICE}, clock=lambda: now[0])
    held = [budgets.take("/judge", ALICE), budgets.take("/judge", ALICE)]
    with pytest.raises(TooManyRequests, match="in flight"):
        budgets.take("/judge", ALICE)
    budgets.take("/verify", ALICE).release()  # another route, another budget
    for slot in held:
        slot.release()
    budgets.take("/judge", ALICE).release()  # the third token of the burst
    with pytest.raises(TooManyRequests, match="rate") as over:
        budgets.take("/judge", ALICE)
    assert over.value.retry_after == pytest.approx(1.0)
    now[0] = 1.0  # one token a second
    budgets.take("/judge", ALICE).release()
    for i in range(3):
        budgets.take("/judge", f"0x{i:040x}").release()
    with pytest.raises(TooManyRequests, match="unregistered"):
        budgets.take("/judge", "0x" + "bb" * 20)
    assert budgets.known() == 3  # alice on two routes, and the strangers' one
    assert ("/judge", OTHERS) in budgets._budgets


def test_an_adaptive_limit_follows_the_latency_of_what_it_admitted() -> None:
    """Fast requests grow the limit up to its ceiling; one far slower than the fastest
    seen (the engine past saturation) cuts it, never below 1."""
    from node.serve.limits import START_LIMIT, AdaptiveInFlight

    now = [0.0]
    limit = AdaptiveInFlight("rounds", 6, 1.0, clock=lambda: now[0])
    assert limit.limit == START_LIMIT

    def run(seconds: float) -> None:
        with limit.acquire():
            now[0] += seconds

    for _ in range(40):
        run(2.0)
    assert limit.limit == 6  # grew to the ceiling, no further
    run(20.0)  # ten times the fastest: saturated
    assert limit.limit == 4
    for _ in range(10):
        run(50.0)
    assert limit.limit == 1
    with limit.acquire(), pytest.raises(TooManyRequests):
        limit.acquire()  # at 1, the next is refused at once
