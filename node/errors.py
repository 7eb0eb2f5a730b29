"""The node's errors and the one error shape every HTTP response uses.

Each error class carries its HTTP status and OpenAI-style `type` and `code`;
`error_body` turns any exception into `(status, {"error": {message, type,
code}})`. Unexpected exceptions become a 500 with a generic message: no stack
trace ever reaches a client.
"""

from typing import Any

from ranking.errors import RankingError, SwarmError
from reputation.envelope import EnvelopeError, InvalidSignature
from reputation.log import LogError

__all__ = [
    "BackendError",
    "BadRequest",
    "ConfigError",
    "Equivocation",
    "MessageRejected",
    "ModelStoreError",
    "NodeError",
    "NotFound",
    "ReplayedMessage",
    "RoundFailed",
    "StaleMessage",
    "UnknownSender",
    "VerificationFailed",
    "error_body",
]


class NodeError(SwarmError):
    status = 500
    type = "internal_error"
    code = "internal_error"


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


class NotFound(NodeError, LookupError):
    status = 404
    type = "not_found_error"
    code = "not_found"

    def __init__(self, message: str, code: str = "not_found"):
        super().__init__(message)
        self.code = code


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
    """Two different signed messages of one type from one sender for one round."""

    code = "equivocation"

    def __init__(self, message: str, evidence: tuple[str, str]):
        super().__init__(message)
        self.evidence = evidence


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


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and body in the one error shape for any exception."""
    if isinstance(exc, NodeError):
        status, type_, code = exc.status, exc.type, exc.code
    elif isinstance(exc, InvalidSignature):
        status, type_, code = 401, "peer_message_rejected", "invalid_signature"
    elif isinstance(exc, EnvelopeError | RankingError):
        status, type_, code = 400, "invalid_request_error", "invalid_request"
    elif isinstance(exc, LogError):
        status, type_, code = 500, "internal_error", "log_error"
    else:
        return 500, _shape("internal error; see the node's log", "internal_error", "internal_error")
    return status, _shape(str(exc), type_, code)


def _shape(message: str, type_: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code}}
