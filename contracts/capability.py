"""A capability attestation: the EIP-712 data that `Swarm.vy`'s `attest` checks (pure).

An attester that calibrated a node signs
    Capability(address node, string model, uint256 score, uint256 issued)
in the contract's domain (`contracts.settlement.domain`): the node, the model it
was tested on, its score in basis points and the unix time of signing. The
contract admits the node with at least three such signatures from distinct
capable members serving the same model, none older than a day.
"""

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

from contracts.settlement import domain

__all__ = ["MAX_AGE", "MIN_ATTESTERS", "Attestation", "recover", "sign"]

MIN_ATTESTERS = 3
"""Attestations `attest` needs (the contract's `MIN_ATTESTERS`)."""
MAX_AGE = 86_400
"""Seconds an attestation stays usable on chain (the contract's `ATTESTATION_MAX_AGE`)."""

TYPES = {
    "Capability": [
        {"name": "node", "type": "address"},
        {"name": "model", "type": "string"},
        {"name": "score", "type": "uint256"},
        {"name": "issued", "type": "uint256"},
    ]
}


@dataclass(frozen=True)
class Attestation:
    node: str
    model: str
    score: int
    """Basis points (10000 = every challenge right)."""
    issued: int

    def typed(self, chain_id: int, contract: str) -> dict[str, Any]:
        return {
            "domain": domain(chain_id, contract),
            "types": TYPES,
            "primaryType": "Capability",
            "message": {
                "node": to_checksum_address(self.node),
                "model": self.model,
                "score": self.score,
                "issued": self.issued,
            },
        }


def sign(account: Any, attestation: Attestation, chain_id: int, contract: str) -> bytes:
    message = encode_typed_data(full_message=attestation.typed(chain_id, contract))
    return bytes(account.sign_message(message).signature)


def recover(attestation: Attestation, chain_id: int, contract: str, signature: bytes) -> str:
    message = encode_typed_data(full_message=attestation.typed(chain_id, contract))
    return str(Account.recover_message(message, signature=signature))
