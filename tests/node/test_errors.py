"""The one error shape, and who is blamed: a request's fault is a 4xx, the node's own a 5xx."""

import pytest

from node.errors import ClaimRejected, PeerRefused, RoundFailed, error_body, refusal_from
from ranking.errors import NotConverged
from reputation.envelope import InvalidSignature
from reputation.messages import InvalidPayload
from reputation.queries import NotInLog


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (NotConverged("the BT fit stopped after 100 steps"), 500, "ranking_failed"),
        (RuntimeError("boom"), 500, "internal_error"),
        (InvalidSignature("signature does not match"), 401, "invalid_signature"),
        (InvalidPayload("answer payload: text: field required"), 400, "invalid_request"),
        (NotInLog("no such round", code="unknown_round"), 404, "unknown_round"),
        (RoundFailed("only 1 of 3 nodes answered"), 503, "too_few_nodes"),
        (ClaimRejected("claims gpt-4", code="model_mismatch"), 400, "model_mismatch"),
    ],
)
def test_every_error_gets_the_one_shape(exc: Exception, status: int, code: str) -> None:
    got, body = error_body(exc)
    assert got == status and set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code"} and body["error"]["code"] == code


def test_an_internal_failure_says_what_failed_but_a_crash_says_nothing() -> None:
    _, body = error_body(NotConverged("the BT fit stopped after 100 steps"))
    assert "BT fit" in body["error"]["message"] and body["error"]["type"] == "internal_error"
    _, body = error_body(KeyError("secret internals"))
    assert "secret" not in body["error"]["message"]


def test_a_peer_error_reads_back_as_a_refusal_of_the_same_kind() -> None:
    refusal = refusal_from(*error_body(ClaimRejected("claims gpt-4", code="model_mismatch")))
    assert isinstance(refusal, PeerRefused) and refusal.about_claim
    assert refusal.peer_code == "model_mismatch" and refusal.peer_status == 400
    other = refusal_from(*error_body(RoundFailed("busy")))
    assert not other.about_claim
    garbled = refusal_from(502, "<html>bad gateway</html>")
    assert not garbled.about_claim and garbled.peer_status == 502
