#pragma version ~=0.4.3
"""
@title Commitments: each node's Merkle roots of its batches of rounds
@notice A registered node commits the roots of its own batches, in order (batch 0,
        1, ...). A leaf is a round's signed result digest d (keccak256 of the signed
        result's canonical JSON): leaf = keccak256(0x00 ‖ d); an inner node is
        keccak256(0x01 ‖ min(a, b) ‖ max(a, b)), so a proof is the list of
        siblings from the leaf up and needs no left/right flags; an odd node at
        the end of a level moves up unchanged. Committing batch k again with the
        same root does nothing (so a replayed transaction is harmless); with
        another root it is refused.
"""

from . import registry

uses: registry

MAX_DEPTH: constant(uint256) = 32

event Committed:
    node: indexed(address)
    batch: indexed(uint256)
    root: bytes32
    rounds: uint256

root: public(HashMap[address, HashMap[uint256, bytes32]])
batches: public(HashMap[address, uint256])


@external
def commit(batch: uint256, root: bytes32, rounds: uint256):
    assert registry._registered(msg.sender), "not registered"
    assert root != empty(bytes32), "empty root"
    if batch < self.batches[msg.sender]:
        assert self.root[msg.sender][batch] == root, "batch already committed with another root"
        return
    assert batch == self.batches[msg.sender], "batches are committed in order"
    self.root[msg.sender][batch] = root
    self.batches[msg.sender] = batch + 1
    log Committed(node=msg.sender, batch=batch, root=root, rounds=rounds)


@internal
@pure
def _leaf(result_digest: bytes32) -> bytes32:
    return keccak256(concat(b"\x00", result_digest))


@internal
@pure
def _root_of(leaf: bytes32, proof: DynArray[bytes32, MAX_DEPTH]) -> bytes32:
    node: bytes32 = leaf
    for sibling: bytes32 in proof:
        if convert(node, uint256) < convert(sibling, uint256):
            node = keccak256(concat(b"\x01", node, sibling))
        else:
            node = keccak256(concat(b"\x01", sibling, node))
    return node


@external
@view
def proves(node: address, batch: uint256, result_digest: bytes32, proof: DynArray[bytes32, MAX_DEPTH]) -> bool:
    """@notice Whether `result_digest` is in batch `batch` that `node` committed."""
    committed: bytes32 = self.root[node][batch]
    return committed != empty(bytes32) and self._root_of(self._leaf(result_digest), proof) == committed
