import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from reputation import EnvelopeError, InvalidSignature, canonical, recover_sender, sign_envelope

ACCOUNT = Account.from_key(b"\x01" * 32)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(EnvelopeError):
        canonical({"x": float("nan")})


@given(
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=10)), max_size=5)
)
def test_signed_messages_round_trip(payload: dict) -> None:
    msg = sign_envelope(ACCOUNT, "answer", "0xabc", payload, timestamp=1000.0)
    assert recover_sender(msg) == ACCOUNT.address


def test_tampering_breaks_the_signature() -> None:
    msg = sign_envelope(ACCOUNT, "answer", "0xabc", {"text": "yes"})
    for field, value in [
        ("payload", {"text": "no"}),
        ("round_id", "0xdef"),
        ("type", "verdict"),
        ("timestamp", msg["timestamp"] + 1),
    ]:
        with pytest.raises(InvalidSignature):
            recover_sender({**msg, field: value})
    with pytest.raises(InvalidSignature):
        recover_sender({**msg, "sender": Account.create().address})
    with pytest.raises(InvalidSignature):
        recover_sender({**msg, "signature": "0x1234"})


@pytest.mark.parametrize(
    "bad",
    [
        [],
        "x",
        {"type": "answer"},
        {
            "type": "a",
            "round_id": None,
            "sender": "0x",
            "timestamp": "now",
            "payload": {},
            "signature": "0x",
        },
    ],
)
def test_malformed_envelopes(bad: object) -> None:
    with pytest.raises(EnvelopeError):
        recover_sender(bad)  # type: ignore[arg-type]


def test_a_timestamp_too_large_for_a_float_is_refused_not_a_crash() -> None:
    message = sign_envelope(ACCOUNT, "answer", "0x1", {}, timestamp=1.0)
    message["timestamp"] = 10**400
    with pytest.raises(EnvelopeError, match="finite"):
        recover_sender(message)
