"""A batch's settlement: the EIP-712 data that `Swarm.vy`'s `settle` checks (pure).

The struct and its domain are described in `Swarm.vy`. The three lists are
hashed as `keccak256(abi_encode(...))` of their Solidity ABI tuple encoding, so
the contract hashes the calldata it gets the same way. Kinds of slash:
`EQUIVOCATION` and `FAILED_VERIFICATION`.
"""

from dataclasses import dataclass, field
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

__all__ = [
    "EQUIVOCATION",
    "FAILED_VERIFICATION",
    "SCALE",
    "Settlement",
    "Slash",
    "domain",
    "quorum",
    "recover",
    "sign",
]

SCALE = 10**18
"""Reputation is fixed point with 18 decimals."""
EQUIVOCATION = 1
FAILED_VERIFICATION = 2

TYPES = {
    "Settlement": [
        {"name": "committer", "type": "address"},
        {"name": "batch", "type": "uint256"},
        {"name": "root", "type": "bytes32"},
        {"name": "participants", "type": "bytes32"},
        {"name": "changes", "type": "bytes32"},
        {"name": "slashes", "type": "bytes32"},
    ]
}


def domain(chain_id: int, contract: str) -> dict[str, Any]:
    """The EIP-712 domain of everything the contract checks a signature of."""
    return {
        "name": "SwarmConsensus",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }


def quorum(participants: int) -> int:
    """Signatures a settlement needs: a majority of the participants, at least two."""
    return max(2, participants // 2 + 1)


@dataclass(frozen=True)
class Slash:
    node: str
    kind: int
    evidence: bytes


@dataclass(frozen=True)
class Settlement:
    committer: str
    batch: int
    root: bytes
    participants: tuple[str, ...]
    changes: tuple[tuple[str, int], ...] = ()
    """(node, reputation delta in fixed point)."""
    slashes: tuple[Slash, ...] = field(default=())

    def hashes(self) -> dict[str, bytes]:
        nodes = [to_checksum_address(n) for n, _ in self.changes]
        return {
            "participants": keccak(encode(["address[]"], [list(self.participants)])),
            "changes": keccak(
                encode(["address[]", "int256[]"], [nodes, [d for _, d in self.changes]])
            ),
            "slashes": keccak(
                encode(
                    ["address[]", "uint8[]", "bytes32[]"],
                    [
                        [s.node for s in self.slashes],
                        [s.kind for s in self.slashes],
                        [s.evidence for s in self.slashes],
                    ],
                )
            ),
        }

    def typed(self, chain_id: int, contract: str) -> dict[str, Any]:
        return {
            "domain": domain(chain_id, contract),
            "types": TYPES,
            "primaryType": "Settlement",
            "message": {
                "committer": to_checksum_address(self.committer),
                "batch": self.batch,
                "root": self.root,
                **self.hashes(),
            },
        }

    def call_args(self, signatures: list[bytes]) -> list[Any]:
        """The arguments of `settle` with these signatures."""
        return [
            to_checksum_address(self.committer),
            self.batch,
            self.root,
            [to_checksum_address(p) for p in self.participants],
            [to_checksum_address(n) for n, _ in self.changes],
            [d for _, d in self.changes],
            [to_checksum_address(s.node) for s in self.slashes],
            [s.kind for s in self.slashes],
            [s.evidence for s in self.slashes],
            signatures,
        ]


def sign(account: Any, settlement: Settlement, chain_id: int, contract: str) -> bytes:
    """`account`'s 65-byte signature (r ‖ s ‖ v) of the settlement."""
    message = encode_typed_data(full_message=settlement.typed(chain_id, contract))
    return bytes(account.sign_message(message).signature)


def recover(settlement: Settlement, chain_id: int, contract: str, signature: bytes) -> str:
    message = encode_typed_data(full_message=settlement.typed(chain_id, contract))
    return str(Account.recover_message(message, signature=signature))
