"""The registry refresh's re-test: after a failed calibration it waits before asking
attesters again (they do real work for every session)."""

import pytest

from node.chain.capability import RETRY_SECONDS, Admission, NotAdmitted, Retest


async def test_a_failed_retest_waits_before_asking_again() -> None:
    now = [0.0]
    calls: list[float] = []
    outcome: list[Exception | None] = [NotAdmitted("2 of the 3 attestations needed")]

    async def run() -> Admission:
        calls.append(now[0])
        if outcome[0] is not None:
            raise outcome[0]
        return Admission(True)

    retest = Retest(run, clock=lambda: now[0])
    with pytest.raises(NotAdmitted):
        await retest()
    now[0] = RETRY_SECONDS / 2
    await retest()  # too soon: nobody is asked
    assert calls == [0.0]
    now[0], outcome[0] = RETRY_SECONDS + 1, None
    await retest()
    await retest()  # a success leaves no cooldown
    assert calls == [0.0, RETRY_SECONDS + 1, RETRY_SECONDS + 1]
