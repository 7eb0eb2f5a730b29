import pytest
from eth_account import Account

from node.errors import Equivocation, MessageRejected, ReplayedMessage, StaleMessage, UnknownSender
from node.messages import MessageGuard
from reputation import InvalidSignature, sign_envelope

ALICE = Account.from_key(b"\x02" * 32)
MALLORY = Account.from_key(b"\x03" * 32)


class Clock:
    now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def guard() -> tuple[MessageGuard, Clock]:
    clock = Clock()
    return MessageGuard(lambda: {ALICE.address}, max_age=60, clock=clock), clock


def test_accepts_a_fresh_message_from_a_registered_sender(guard) -> None:
    g, clock = guard
    msg = sign_envelope(ALICE, "answer", "0x1", {"text": "a"}, timestamp=clock.now)
    assert g.check(msg, "answer", "0x1").startswith("0x")


def test_rejections(guard) -> None:
    g, clock = guard
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
    g, clock = guard
    first = sign_envelope(ALICE, "answer", "0x1", {"text": "a"}, timestamp=clock.now)
    g.check(first, "answer")
    with pytest.raises(ReplayedMessage) as replay:
        g.check(first, "answer")
    assert not isinstance(replay.value, Equivocation)
    second = sign_envelope(ALICE, "answer", "0x1", {"text": "b"}, timestamp=clock.now)
    with pytest.raises(Equivocation) as eq:
        g.check(second, "answer")
    assert eq.value.evidence[0] != eq.value.evidence[1]
    # Another round or type from the same sender is fine.
    g.check(sign_envelope(ALICE, "answer", "0x2", {"text": "a"}, timestamp=clock.now), "answer")


def test_old_entries_are_forgotten_but_stay_refused_as_stale(guard) -> None:
    g, clock = guard
    msg = sign_envelope(ALICE, "answer", "0x1", {}, timestamp=clock.now)
    g.check(msg, "answer")
    clock.now += 200
    with pytest.raises(StaleMessage):
        g.check(msg, "answer")


def test_verification_messages_are_keyed_by_their_subject(guard) -> None:
    g, clock = guard

    def request(subject: str, methods: list[str]) -> dict:
        payload = {"subject": subject, "methods": methods}
        return sign_envelope(ALICE, "verify_request", "0x1", payload, timestamp=clock.now)

    g.check(request("0xaa", ["teacher_forced"]), "verify_request")
    g.check(request("0xbb", ["teacher_forced"]), "verify_request")  # the next candidate
    with pytest.raises(Equivocation):
        g.check(request("0xaa", ["reexecution"]), "verify_request")
