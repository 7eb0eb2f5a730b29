"""Merkle trees over round result digests, as `commitments.vy` checks them (pure).

leaf = keccak256(0x00 ‖ d) for a result digest d; an inner node is
keccak256(0x01 ‖ min(a, b) ‖ max(a, b)) (pairs sorted, so a proof is just the
siblings from the leaf up); an odd node at the end of a level moves up unchanged.
The prefixes keep a leaf from passing for an inner node.
"""

from eth_utils import keccak

__all__ = ["leaf", "proof", "root"]


def _b(h: str | bytes) -> bytes:
    data = bytes.fromhex(h.removeprefix("0x")) if isinstance(h, str) else h
    if len(data) != 32:
        raise ValueError("a digest is 32 bytes")
    return data


def leaf(result_digest: str | bytes) -> bytes:
    return keccak(b"\x00" + _b(result_digest))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(b"\x01" + min(a, b) + max(a, b))


def _levels(digests: list[str] | list[bytes]) -> list[list[bytes]]:
    if not digests:
        raise ValueError("a Merkle tree needs at least one leaf")
    levels = [[leaf(d) for d in digests]]
    while len(levels[-1]) > 1:
        level = levels[-1]
        up = [_parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
    return levels


def root(digests: list[str] | list[bytes]) -> bytes:
    return _levels(digests)[-1][0]


def proof(digests: list[str] | list[bytes], index: int) -> list[bytes]:
    """The siblings of leaf `index` from the bottom up."""
    if not 0 <= index < len(digests):
        raise IndexError("leaf index out of range")
    out = []
    for level in _levels(digests)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            out.append(level[sibling])
        index //= 2
    return out
