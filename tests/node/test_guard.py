import pytest
from eth_account import Account

from node.errors import (
    Equivocation,
    MessageRejected,
    ReplayedMessage,
    SenderOverBudget,
    StaleMessage,
    UnknownSender,
)
from node.guard import MessageGuard
from reputation import InvalidSignature, sign_envelope
from reputation.envelope import digest
from reputation.evidence import check_equivocation

ALICE = Account.from_key(b"\x02" * 32)
MALLORY = Account.from_key(b"\x03" * 32)


class Clock:
    now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def guard() -> tuple[MessageGuard, Clock, list]:
    clock = Clock()
    evidence: list = []
    sink = lambda first, second: evidence.append((first, second))  # noqa: E731
    return MessageGuard(lambda: {ALICE.address}, 60, clock, sink), clock, evidence


def test_accepts_a_fresh_message_from_a_registered_sender(guard) -> None:
    g, clock, _ = guard
    msg = sign_envelope(ALICE, "answer", "0x1", {"text": "a"}, timestamp=clock.now)
    assert g.check(msg, "answer", "0x1").startswith("0x")


def test_rejections(guard) -> None:
    g, clock, _ = guard
    with pytest.raises(UnknownSender):
        g.check(sign_envelope(MALLORY, "answer", "0x1", {}, timestamp=clock.now), "answer")
    with pytest.raises(StaleMessage):
        g.check(sign_envelope(ALICE, "answer", "0x1", {}, timestamp=clock.now - 61), "answer")
    with pytest.raises(StaleMessage):
        g.check(sign_envelope(ALICE, "answer", "0x1", {}, timestamp=clock.now + 61), "answer")
    with pytest.raises(MessageRejected, match="expected"):
        g.check(sign_envelope(ALICE, "verdict", "0x1", {}, timestamp=clock.now), "answer")
    with pytest.raises(MessageRejected, match="another round"):
        g.check(sign_envelope(ALICE, "answer", "0x2", {}, timestamp=clock.now), "answer", "0x1")
    forged = sign_envelope(MALLORY, "answer", "0x1", {}, timestamp=clock.now)
    with pytest.raises(InvalidSignature):
        g.check({**forged, "sender": ALICE.address}, "answer")


def test_replay_and_equivocation(guard) -> None:
    g, clock, evidence = guard
    first = sign_envelope(ALICE, "answer", "0x1", {"text": "a"}, timestamp=clock.now)
    g.check(first, "answer")
    with pytest.raises(ReplayedMessage) as replay:
        g.check(first, "answer")
    assert not isinstance(replay.value, Equivocation) and evidence == []
    second = sign_envelope(ALICE, "answer", "0x1", {"text": "b"}, timestamp=clock.now)
    with pytest.raises(Equivocation) as eq:
        g.check(second, "answer")
    assert (eq.value.first, eq.value.second) == (digest(first), second)
    assert evidence == [(digest(first), second)]  # the log holds the first: its digest will do
    assert check_equivocation(first, second) == ALICE.address  # and they prove it
    # Another round or type from the same sender is fine.
    g.check(sign_envelope(ALICE, "answer", "0x2", {"text": "a"}, timestamp=clock.now), "answer")


def test_accepted_messages_are_forgotten_after_twice_the_max_age(guard) -> None:
    g, clock, _ = guard
    for i in range(50):
        g.check(sign_envelope(ALICE, "answer", f"0x{i}", {}, timestamp=clock.now), "answer")
    assert g.remembered == 50
    clock.now += 121  # past 2 · max_age: all of them would be refused as stale anyway
    g.check(sign_envelope(ALICE, "answer", "0xnew", {}, timestamp=clock.now), "answer")
    assert g.remembered == 1
    old = sign_envelope(ALICE, "answer", "0x1", {}, timestamp=clock.now - 121)
    with pytest.raises(StaleMessage):  # forgotten, but still refused
        g.check(old, "answer")


def test_per_subject_messages_are_keyed_by_their_subject(guard) -> None:
    g, clock, _ = guard

    def message(kind: str, **payload: object) -> dict:
        return sign_envelope(ALICE, kind, "0x1", payload, timestamp=clock.now)

    g.check(message("verify_request", subject="0xaa", methods=["a"]), "verify_request")
    g.check(message("verify_request", subject="0xbb", methods=["a"]), "verify_request")
    with pytest.raises(Equivocation):
        g.check(message("verify_request", subject="0xaa", methods=["b"]), "verify_request")
    # A verification per (answer, request): another node's request gets its own answer.
    g.check(message("verification", subject="0xaa", request="0xq1", results=[1]), "verification")
    g.check(message("verification", subject="0xaa", request="0xq2", results=[1]), "verification")
    with pytest.raises(Equivocation):
        g.check(
            message("verification", subject="0xaa", request="0xq1", results=[0]), "verification"
        )
    # A judge request per judge and attempt; a verdict per request.
    g.check(message("judge_request", judge="0xj1", attempt=0, tasks=[1]), "judge_request")
    g.check(message("judge_request", judge="0xj2", attempt=0, tasks=[2]), "judge_request")
    g.check(message("judge_request", judge="0xj1", attempt=1, tasks=[3]), "judge_request")
    with pytest.raises(Equivocation):
        g.check(message("judge_request", judge="0xj1", attempt=1, tasks=[4]), "judge_request")
    g.check(message("verdict", request="0xr1", verdicts=[1]), "verdict")
    g.check(message("verdict", request="0xr2", verdicts=[1]), "verdict")
    with pytest.raises(Equivocation):
        g.check(message("verdict", request="0xr1", verdicts=[2]), "verdict")


def test_a_request_forwarded_to_another_judge_frames_nobody(guard) -> None:
    g, clock, evidence = guard
    for_j1 = sign_envelope(
        ALICE, "judge_request", "0x1", {"judge": "0xj1", "attempt": 0}, timestamp=clock.now
    )
    for_j2 = sign_envelope(
        ALICE, "judge_request", "0x1", {"judge": "0xj2", "attempt": 0}, timestamp=clock.now
    )
    g.check(for_j1, "judge_request")  # judge 1 forwarded its request to this judge first
    g.check(for_j2, "judge_request")  # the genuine one still gets in, and no evidence
    assert evidence == []


def test_the_guard_keeps_digests_only_and_only_what_the_handler_admitted(guard) -> None:
    g, clock, _ = guard
    junk = sign_envelope(ALICE, "announce", "0x1", {"text": "x" * 10_000}, timestamp=clock.now)
    g.check(junk, "announce", remember=False)  # the handler then refuses it: nothing kept
    assert g.remembered == 0
    genuine = sign_envelope(ALICE, "announce", "0x1", {"text": "y"}, timestamp=clock.now)
    g.check(genuine, "announce", remember=False)  # the refused one does not block it
    g.remember(genuine)
    assert g.remembered == 1
    assert all(isinstance(v, str) for v in g._seen.values())  # a digest, not the message
    with pytest.raises(ReplayedMessage):
        g.check(genuine, "announce", remember=False)
    with pytest.raises(ReplayedMessage):  # two copies racing past check: the second loses
        g.remember(genuine)


def test_a_sender_cannot_make_the_guard_hold_more_than_its_cap() -> None:
    clock = Clock()
    g = MessageGuard(lambda: {ALICE.address, MALLORY.address}, 60, clock, per_sender=10)
    for i in range(10):
        g.check(sign_envelope(MALLORY, "answer", f"0x{i}", {}, timestamp=clock.now), "answer")
    with pytest.raises(SenderOverBudget) as over:
        g.check(sign_envelope(MALLORY, "answer", "0xa", {}, timestamp=clock.now), "answer")
    assert over.value.status == 429 and g.remembered == 10
    g.check(
        sign_envelope(ALICE, "answer", "0x1", {}, timestamp=clock.now), "answer"
    )  # others go on
    clock.now += 121  # once its messages expire, the sender may send again
    g.check(sign_envelope(MALLORY, "answer", "0xb", {}, timestamp=clock.now), "answer")
    assert g.remembered == 1


def test_requests_racing_past_check_still_meet_the_cap_when_remembered() -> None:
    clock = Clock()
    g = MessageGuard(lambda: {MALLORY.address}, 60, clock, per_sender=3)
    racing = [sign_envelope(MALLORY, "answer", f"0x{i}", {}, timestamp=clock.now) for i in range(5)]
    for message in racing:  # all pass the check before any handler remembers one
        g.check(message, "answer", remember=False)
    for message in racing[:3]:
        g.remember(message)
    with pytest.raises(SenderOverBudget):
        g.remember(racing[3])
    assert g.remembered == 3
