"""Signed protocol messages: canonical JSON and EIP-191 signatures.

A message is a JSON object with `type`, `round_id`, `sender` (checksum
address), `timestamp` (seconds since the epoch) and `payload`. Its canonical
form is JSON with sorted keys, no white space, UTF-8. The sender signs the
canonical bytes of the message without its `signature` field, as an EIP-191
"personal message"; the signed message is the same object plus `signature`
(0x-hex). What is logged and hashed is the canonical form of the signed message.
"""

import json
import math
import time
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from swarm_errors import SwarmError

__all__ = [
    "EnvelopeError",
    "InvalidSignature",
    "canonical",
    "digest",
    "recover_sender",
    "sign_envelope",
]

HEADER = ("type", "round_id", "sender", "timestamp", "payload")


class EnvelopeError(SwarmError, ValueError):
    """A message that is not a well-formed signed envelope."""


class InvalidSignature(EnvelopeError):
    """The signature does not recover to the stated sender."""


def canonical(obj: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8; NaN and infinities refused."""
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise EnvelopeError(f"not canonical JSON: {exc}") from exc


def digest(obj: Any) -> str:
    """0x-hex keccak256 of the canonical form."""
    return "0x" + keccak(canonical(obj)).hex()


def _finite(number: float) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:  # an integer too large for a float
        return False


def _unsigned(envelope: dict[str, Any]) -> dict[str, Any]:
    return {key: envelope[key] for key in HEADER}


def sign_envelope(
    account: Any,
    type_: str,
    round_id: str | None,
    payload: dict[str, Any],
    timestamp: float | None = None,
) -> dict[str, Any]:
    """A signed message from `account` (an eth-account LocalAccount)."""
    envelope: dict[str, Any] = {
        "type": type_,
        "round_id": round_id,
        "sender": account.address,
        "timestamp": round(time.time() if timestamp is None else timestamp, 3),
        "payload": payload,
    }
    signed = account.sign_message(encode_defunct(primitive=canonical(envelope)))
    envelope["signature"] = "0x" + bytes(signed.signature).hex()
    return envelope


def recover_sender(envelope: dict[str, Any]) -> str:
    """Check the envelope's shape and signature; return the sender's address."""
    if not isinstance(envelope, dict):
        raise EnvelopeError("a signed message must be a JSON object")
    missing = [key for key in (*HEADER, "signature") if key not in envelope]
    if missing:
        raise EnvelopeError(f"signed message lacks {', '.join(missing)}")
    extra = set(envelope) - {*HEADER, "signature"}
    if extra:
        raise EnvelopeError(f"signed message has unexpected fields {', '.join(sorted(extra))}")
    if not isinstance(envelope["sender"], str) or not isinstance(envelope["signature"], str):
        raise EnvelopeError("sender and signature must be strings")
    if envelope["round_id"] is not None and not isinstance(envelope["round_id"], str):
        raise EnvelopeError("round_id must be a string or null")
    stamp = envelope["timestamp"]
    if not isinstance(stamp, int | float) or isinstance(stamp, bool) or not _finite(stamp):
        raise EnvelopeError("timestamp must be a finite number of seconds")
    if not isinstance(envelope["payload"], dict):
        raise EnvelopeError("payload must be a JSON object")
    try:
        signer = Account.recover_message(
            encode_defunct(primitive=canonical(_unsigned(envelope))),
            signature=bytes.fromhex(envelope["signature"].removeprefix("0x")),
        )
    except EnvelopeError:
        raise
    except Exception as exc:  # eth-keys raises several types for a malformed signature
        raise InvalidSignature(f"malformed signature: {exc}") from exc
    if signer.lower() != envelope["sender"].lower():
        raise InvalidSignature("signature does not match the sender")
    return str(signer)
