"""The node's errors, and the one error shape every HTTP response uses.

Each `NodeError` carries its HTTP status and OpenAI-style `type` and `code`.
`error_body` turns any exception into `(status, {"error": {message, type,
code}})`, the only place that body is built: the other packages' errors map
through `_FOREIGN`, and an unexpected exception becomes a 500 with a generic
message (no stack trace ever reaches a client). A failure of the node's own
work (its fit not converging, its log unwritable) is a 5xx that says what
failed, never a 4xx blaming the request.

Peers' failures join the tree as `PeerFailure`, in three kinds that a round
treats differently (`node.peers.fanout`):

- `PeerUnreachable`: the peer could not be reached, or did not answer in time;
  it is absent (a verifier that is absent abstains);
- `PeerRefused`: the peer answered with an error. When its `type` is
  `claim_rejected`, the refusal is about the claim it was sent (another model,
  impossible token ids): in verification that is a failed vote, not an absence;
- `BadReply`: the peer answered, but its reply fails our checks.

`refusal_from` reads a peer's error body back into a `PeerRefused`, so a local
participant's exception and a remote one's HTTP error become the same thing. A
claim refusal carries the verifier's signed refusal inside the error object
(`error.verification`); the rest of the shape is the same as every error's.
"""

from typing import Any

from contracts.client import ChainError, ChainRefused, ChainUnavailable
from ranking.errors import RankingError
from reputation.bounded import JsonRefused, JsonTooLarge
from reputation.envelope import EnvelopeError, InvalidSignature
from reputation.log import LogError
from reputation.queries import NotInLog
from swarm_errors import SwarmError
from verification.signatures import SignatureError

__all__ = [
    "CLAIM_REJECTED",
    "BackendError",
    "BadReply",
    "BadRequest",
    "ClaimRejected",
    "ConfigError",
    "Conflict",
    "Equivocation",
    "HttpError",
    "MessageRejected",
    "ModelStoreError",
    "NodeError",
    "NotFound",
    "PeerFailure",
    "PeerRefused",
    "PeerUnreachable",
    "ReplayedMessage",
    "RoundFailed",
    "SenderOverBudget",
    "StaleMessage",
    "TooManyRequests",
    "Unauthorized",
    "UnknownSender",
    "VerificationFailed",
    "error_body",
    "refusal_from",
]

CLAIM_REJECTED = "claim_rejected"
_HTTP_KINDS = {
    404: ("not_found_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    413: ("invalid_request_error", "payload_too_large"),
}


class NodeError(SwarmError):
    status = 500
    type = "internal_error"
    code = "internal_error"
    retry_after: float | None = None
    """Seconds after which the same request may succeed; the HTTP reply says so in a
    `Retry-After` header (`node.api.routes.error_middleware`)."""


class ConfigError(NodeError, ValueError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_config"


class BadRequest(NodeError, ValueError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, message: str, code: str = "invalid_request"):
        super().__init__(message)
        self.code = code


class ClaimRejected(BadRequest):
    """A verifier refuses the claim it was asked to check: the answer claims another
    model, impossible token ids, more tokens than it may, an unreadable LSH signature,
    or a signature that is not its sender's. `signed` is the verifier's signed refusal
    (a `verification` message), which goes in the error body; the coordinator counts a
    signed refusal as a failed vote."""

    type = CLAIM_REJECTED

    def __init__(self, message: str, code: str, status: int = 400):
        super().__init__(message, code)
        self.status = status
        self.signed: dict[str, Any] | None = None


class NotFound(NodeError, LookupError):
    status = 404
    type = "not_found_error"
    code = "not_found"

    def __init__(self, message: str, code: str = "not_found"):
        super().__init__(message)
        self.code = code


class Unauthorized(NodeError):
    """A request that needs a credential it does not carry (the log export's token)."""

    status = 401
    type = "authentication_error"
    code = "unauthorized"


class Conflict(NodeError):
    """The request cannot be served in this node's present state (409), or not now (503)."""

    type = "invalid_request_error"

    def __init__(self, message: str, code: str, status: int = 409):
        super().__init__(message)
        self.code = code
        self.status = status


class TooManyRequests(NodeError):
    """This node is at its admission limit for the request (OpenAI's 429
    `rate_limit_exceeded`); refused at once, never queued (`node.serve.limits`)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1.0, retry_after)


class HttpError(NodeError):
    """An HTTP-level refusal of the server itself (no route, wrong method, too large)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.type, self.code = _HTTP_KINDS.get(status, ("invalid_request_error", "http_error"))


class MessageRejected(NodeError, ValueError):
    """A peer message that fails the receiver's checks."""

    status = 401
    type = "peer_message_rejected"
    code = "rejected"


class UnknownSender(MessageRejected):
    status = 403
    code = "unknown_sender"


class StaleMessage(MessageRejected):
    code = "stale_message"


class ReplayedMessage(MessageRejected):
    status = 409
    code = "replayed_message"


class Equivocation(ReplayedMessage):
    """Two different signed messages of one kind from one sender for one round; both
    messages are the evidence (`reputation.evidence`). The receiver keeps only the
    first one's digest (`node.guard`); its log holds the message itself."""

    code = "equivocation"

    def __init__(self, message: str, first: str, second: dict[str, Any]):
        super().__init__(message)
        self.first = first
        self.second = second


class SenderOverBudget(MessageRejected):
    """A sender with more messages in the guard's window than it may have (`node.guard`)."""

    status = 429
    type = "rate_limit_error"
    code = "sender_over_budget"


class RoundFailed(NodeError):
    status = 503
    type = "swarm_unavailable"
    code = "too_few_nodes"


class VerificationFailed(RoundFailed):
    code = "verification_failed"


class BackendError(NodeError):
    status = 502
    type = "backend_error"
    code = "backend_error"


class ModelStoreError(NodeError):
    code = "model_store"


class PeerFailure(NodeError):
    """A peer did not answer usefully."""

    status = 502
    type = "peer_error"
    code = "peer_failure"


class PeerUnreachable(PeerFailure):
    """The peer could not be reached or did not answer in time: an absence."""

    code = "peer_unreachable"


class PeerRefused(PeerFailure):
    """The peer answered with an error in the one error shape (`signed`: the signed
    refusal a verifier attaches to a `claim_rejected` error, unchecked)."""

    code = "peer_refused"

    def __init__(self, message: str, status: int, kind: str, code: str, signed: Any = None):
        super().__init__(message)
        self.peer_status = status
        self.peer_type = kind
        self.peer_code = code
        self.signed = signed

    @property
    def about_claim(self) -> bool:
        """The refusal is about the claim sent (a failed vote), not about the request."""
        return self.peer_type == CLAIM_REJECTED

    def __str__(self) -> str:
        return f"HTTP {self.peer_status} {self.peer_code}: {super().__str__()}"


class BadReply(PeerFailure):
    """The peer answered, but the reply fails the coordinator's checks."""

    code = "bad_reply"


_FOREIGN: list[tuple[type[BaseException], int, str, str]] = [
    (JsonTooLarge, 413, "invalid_request_error", "payload_too_large"),
    (JsonRefused, 400, "invalid_request_error", "invalid_json"),
    (InvalidSignature, 401, "peer_message_rejected", "invalid_signature"),
    (SignatureError, 400, "invalid_request_error", "invalid_lsh_signature"),
    (EnvelopeError, 400, "invalid_request_error", "invalid_request"),
    (NotInLog, 404, "not_found_error", "not_found"),
    (ChainUnavailable, 503, "service_unavailable", "chain_unavailable"),
    (ChainRefused, 409, "invalid_request_error", "chain_refused"),
    (ChainError, 502, "chain_error", "chain_error"),
    (LogError, 500, "internal_error", "log_error"),
    (RankingError, 500, "internal_error", "ranking_failed"),
    (SwarmError, 500, "internal_error", "internal_error"),
]


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and body in the one error shape for any exception."""
    if isinstance(exc, NodeError):
        body = _shape(str(exc), exc.type, exc.code)
        if isinstance(exc, ClaimRejected) and exc.signed is not None:
            body["error"]["verification"] = exc.signed
        return exc.status, body
    for kind, status, type_, code in _FOREIGN:
        if isinstance(exc, kind):
            code = getattr(exc, "code", code)
            message = str(exc) if status < 500 else f"internal failure of this node: {exc}"
            return status, _shape(message, type_, code)
    return 500, _shape("internal error; see the node's log", "internal_error", "internal_error")


def refusal_from(status: int, body: Any) -> PeerRefused:
    """A peer's error reply as a `PeerRefused` (whatever shape the body has)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return PeerRefused(str(body)[:300], status, "unknown", "unknown")
    return PeerRefused(
        str(error.get("message", ""))[:300],
        status,
        str(error.get("type", "unknown")),
        str(error.get("code", "unknown")),
        error.get("verification"),
    )


def _shape(message: str, type_: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code}}
