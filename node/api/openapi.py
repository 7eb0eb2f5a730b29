"""The OpenAPI 3.1 document of every route a node serves (`GET /openapi.json`).

One operation per (method, path) in `OPERATIONS`; a test checks that they are
exactly the routes the aiohttp application registers (GET routes also answer
HEAD, as aiohttp registers them: not listed). Request and response bodies are
the pydantic models' JSON schemas (`model_json_schema`, under
`components/schemas`): the client API's `ChatCompletionRequest` and
`ChatCompletion` (`node.api.protocol`), and for the peer routes the signed
envelope (`reputation.envelope`: `type`, `round_id`, `sender`, `timestamp`,
`payload`, `signature`) around each message type's payload model
(`reputation.messages`). Every error status is the one error shape
(`node.errors.error_body`); each operation lists the statuses it can answer:
400 malformed input, 401/403/409 a peer message refused by the guard, 404,
408 a body not received in time, 413 a body over `server.max_body_bytes`,
429 over an admission limit (with `Retry-After`), 502 a peer or engine failure,
503 too few nodes for a round, a node still starting or over its connection
cap, 500 this node's own failure. Decision: OpenAPI 3.1 (not 3.0) because
pydantic's schemas are JSON Schema 2020-12 (`null` types, `const`), which 3.1
takes as is. The document is built once per process (it depends on no setting).
"""

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from node.api.protocol import ChatCompletion, ChatCompletionRequest
from node.serve import PATHS
from reputation.messages import (
    AnnouncePayload,
    AnswerPayload,
    AttestationPayload,
    CalibrateRequestPayload,
    ChallengePayload,
    JudgeRequestPayload,
    RepliesPayload,
    SettleRequestPayload,
    SettleSignaturePayload,
    VerdictPayload,
    VerificationPayload,
    VerifyRequestPayload,
)
from reputation.result import StoredRound

__all__ = ["OPERATIONS", "PEER_MESSAGES", "openapi_document"]

REF = "#/components/schemas/{model}"

PEER_MESSAGES: dict[
    str, tuple[list[tuple[str, type[BaseModel]]], list[tuple[str, type[BaseModel]]]]
] = {
    PATHS["answer"]: ([("announce", AnnouncePayload)], [("answer", AnswerPayload)]),
    PATHS["judge"]: ([("judge_request", JudgeRequestPayload)], [("verdict", VerdictPayload)]),
    PATHS["verify"]: (
        [("verify_request", VerifyRequestPayload)],
        [("verification", VerificationPayload)],
    ),
    PATHS["cosign"]: (
        [("settle_request", SettleRequestPayload)],
        [("settle_signature", SettleSignaturePayload)],
    ),
    PATHS["calibrate"]: (
        [("calibrate_request", CalibrateRequestPayload), ("calibrate_replies", RepliesPayload)],
        [("challenge", ChallengePayload), ("attestation", AttestationPayload)],
    ),
}
"""Each peer path: the signed message types it takes and those it replies with."""

_CLIENT_ERRORS = (400, 404, 408, 413, 429, 500, 502, 503)
_PEER_ERRORS = (400, 401, 403, 408, 409, 413, 429, 500, 502, 503)
_READ_ERRORS = (500, 503)

_ERROR_TEXT = {
    400: "Malformed or refused input (an unsupported parameter is named)",
    401: "A peer message whose signature, type, round or age is refused; a missing token",
    403: "A signed message from a node that is not a registered member",
    404: "No such model, round or route",
    408: "The request body was not received within server.body_timeout",
    409: "A replayed message, or equivocation",
    413: "The body is larger than server.max_body_bytes",
    429: "Over an admission limit; see Retry-After",
    500: "This node's own failure",
    502: "A peer or the engine failed",
    503: "Too few nodes for a round, the node is starting, or over its connection cap",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _envelope(type_: str, payload: type[BaseModel]) -> dict[str, Any]:
    """A signed message of `type_` (`reputation.envelope`)."""
    return {
        "type": "object",
        "description": f"A signed `{type_}` message (EIP-191 over its canonical JSON)",
        "required": ["type", "round_id", "sender", "timestamp", "payload", "signature"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": type_},
            "round_id": {
                "anyOf": [{"type": "string", "pattern": "^0x[0-9a-f]{64}$"}, {"type": "null"}]
            },
            "sender": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
            "timestamp": {"type": "number", "description": "Seconds since the epoch"},
            "payload": _ref(payload.__name__),
            "signature": {"type": "string", "pattern": "^0x[0-9a-f]{130}$"},
        },
    }


def _messages(kinds: list[tuple[str, type[BaseModel]]]) -> dict[str, Any]:
    refs = [_ref(_message_name(t)) for t, _ in kinds]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def _message_name(type_: str) -> str:
    return "Signed_" + type_


_OBJECT = {"type": "object"}
_HEALTH = {
    "type": "object",
    "required": ["status", "node", "model", "peers"],
    "properties": {
        "status": {"enum": ["ok", "starting"]},
        "waiting_for": {"type": "string"},
        "node": {"type": "string"},
        "model": {"type": "string"},
        "peers": {"type": "object"},
        "clock": {
            "type": "object",
            "description": "Clock offset to peers, measured from their signed timestamps",
        },
    },
}
_MODELS = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "object", "owned_by"],
                "properties": {
                    "id": {"type": "string"},
                    "object": {"const": "model"},
                    "created": {"type": "integer"},
                    "owned_by": {"type": "string"},
                },
            },
        },
    },
}


def _operation(
    summary: str,
    tag: str,
    ok: dict[str, Any],
    errors: tuple[int, ...],
    body: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": ok}
    for status in errors:
        response = _json(_ref("Error"), _ERROR_TEXT[status])
        if status == 429:
            response["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds"}
            }
        responses[str(status)] = response
    out: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses, **extra}
    if body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return out


def _peer_operation(path: str) -> dict[str, Any]:
    takes, replies = PEER_MESSAGES[path]
    name = path.rsplit("/", 1)[1]
    return _operation(
        f"Peer route: {', '.join(t for t, _ in takes)} → {', '.join(t for t, _ in replies)}",
        "peer",
        _json(_messages(replies), "The node's signed reply"),
        _PEER_ERRORS,
        _messages(takes),
        operationId=f"peer_{name}",
    )


OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/chat/completions"): _operation(
        "OpenAI chat completions: model `swarm` runs a round, the node's own model id a plain "
        "generation",
        "client",
        {
            "description": "The completion, or with `stream: true` server-sent events",
            "content": {
                "application/json": {"schema": _ref("ChatCompletion")},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        _CLIENT_ERRORS,
        _ref("ChatCompletionRequest"),
        operationId="chat_completions",
    ),
    ("GET", "/v1/models"): _operation(
        "The models this node serves",
        "client",
        _json(_MODELS, "OpenAI's model list"),
        _READ_ERRORS,
        operationId="models",
    ),
    ("GET", "/v1/rounds/{round_id}"): _operation(
        "A round in this node's log, with its on-chain commitment",
        "client",
        _json(
            {
                "allOf": [
                    _ref("StoredRound"),
                    {"type": "object", "properties": {"commitment": {"type": ["object", "null"]}}},
                ]
            },
            "The stored round",
        ),
        (404, *_READ_ERRORS),
        operationId="get_round",
        parameters=[
            {"name": "round_id", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
    ),
    **{("POST", path): _peer_operation(path) for path in PATHS.values()},
    ("GET", "/swarm/v1/info"): _operation(
        "This node's identity, model, settings, speed and peers",
        "operations",
        _json(_OBJECT, "Node information"),
        _READ_ERRORS,
        operationId="info",
    ),
    ("GET", "/swarm/v1/log/export"): _operation(
        "The consensus log as JSON lines, for an auditor with the bearer token",
        "operations",
        {
            "description": "One signed log entry per line",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        (401, 404, *_READ_ERRORS),
        operationId="log_export",
        security=[{"audit_token": []}],
    ),
    ("GET", "/health"): _operation(
        "Whether a round can run now (200) or what the node waits for (503)",
        "operations",
        _json(_HEALTH, "Ready"),
        (500,),
        operationId="health",
    ),
    ("GET", "/metrics"): _operation(
        "Prometheus metrics",
        "operations",
        {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        _READ_ERRORS,
        operationId="metrics",
    ),
    ("GET", "/openapi.json"): _operation(
        "This document",
        "operations",
        _json(_OBJECT, "OpenAPI 3.1"),
        _READ_ERRORS,
        operationId="openapi",
    ),
}
"""Every route of a node: (method, path) → its OpenAPI operation."""

OPERATIONS[("GET", "/health")]["responses"]["503"] = _json(_HEALTH, "Starting: see waiting_for")

_ERROR = {
    "type": "object",
    "description": "The one error shape (`node.errors.error_body`)",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": "string"},
            },
        }
    },
}


def _schemas() -> dict[str, Any]:
    payloads = {p for takes, replies in PEER_MESSAGES.values() for _, p in [*takes, *replies]}
    models: list[type[BaseModel]] = [
        ChatCompletionRequest,
        ChatCompletion,
        StoredRound,
        *sorted(payloads, key=str),
    ]
    _, top = models_json_schema(
        [(m, "validation" if m is ChatCompletionRequest else "serialization") for m in models],
        ref_template=REF,
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    for takes, replies in PEER_MESSAGES.values():
        for type_, payload in [*takes, *replies]:
            schemas[_message_name(type_)] = _envelope(type_, payload)
    schemas["Error"] = _ERROR
    return schemas


@cache
def openapi_document(version: str) -> dict[str, Any]:
    """The document (`version`: the node's software version)."""
    paths: dict[str, Any] = {}
    for (method, path), operation in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "swarm node",
            "version": version,
            "description": "A node of a swarm-inference network with verified consensus: the "
            "OpenAI-compatible client API, the signed peer protocol and operations routes.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"audit_token": {"type": "http", "scheme": "bearer"}},
        },
        "tags": [
            {"name": "client", "description": "OpenAI-compatible API"},
            {"name": "peer", "description": "Signed messages between nodes (DESIGN.md)"},
            {"name": "operations", "description": "Health, metrics, log export"},
        ],
    }
