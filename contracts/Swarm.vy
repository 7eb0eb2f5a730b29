#pragma version ~=0.4.3
"""
@title Swarm: the registry, the commitments and quorum-signed settlements
@notice One deployed contract composed of two modules, `registry` (members, stake,
        reputation) and `commitments` (Merkle roots of batches), plus the one way
        reputation and stake of a node change on behalf of others: `settle`.

        A settlement is the reputation changes and slashes that one committed batch
        of rounds justifies. It takes effect only with EIP-712 signatures over
            Settlement(address committer, uint256 batch, bytes32 root,
                       bytes32 participants, bytes32 changes, bytes32 slashes)
        in the domain {name "SwarmConsensus", version "1", chainId, this contract},
        where participants = keccak256(abi_encode(address[])),
        changes = keccak256(abi_encode(address[], int256[])) and
        slashes = keccak256(abi_encode(address[], uint8[], bytes32[])).
        So a signature is useless on another batch (committer, batch and root),
        another contract or another chain (the domain), and names exactly what it
        approves. The signers must be distinct registered participants of the
        batch, at least max(2, n // 2 + 1) of its n participants; every node whose
        reputation or stake changes must be a participant; the root must be the
        one committed; a batch is settled once. No single node can therefore
        change another's reputation or stake.

        Slash kinds: 1 equivocation (two different signed messages of one type for
        one round by one sender), 2 failed verification; `evidence` is the digest
        of the logged proof (the pair of messages, or the round's signed result).
        A slash takes `slash_bps`/10000 of the node's bonded and unbonding stake.
        Every participant of a settled batch counts as seen (`registry.last_seen`).

        Proof-of-capability: `attest` admits a registered node to rounds with the
        EIP-712 signatures of at least `MIN_ATTESTERS` distinct other members over
            Capability(address node, string model, uint256 score, uint256 issued)
        (same domain), each signer capable itself and serving the same model (it
        checked the node's answers against its own copy), each `issued` no later
        than now and at most `ATTESTATION_MAX_AGE` seconds old. `score` is the
        signer's score of the node in basis points, kept in the `Attested` event;
        the member's `attestation` becomes the hash of the signatures.
"""

from . import registry
from . import commitments

initializes: registry
initializes: commitments[registry := registry]

exports: (
    registry.register,
    registry.update,
    registry.stake,
    registry.request_unstake,
    registry.withdraw,
    registry.count,
    registry.members,
    registry.active,
    registry.capable,
    registry.genesis_seats,
    registry.inactivity_limit,
    registry.member,
    registry.node_list,
    registry.min_stake,
    registry.unbonding_delay,
    registry.initial_reputation,
    commitments.commit,
    commitments.proves,
    commitments.root,
    commitments.batches,
)

MAX_PARTICIPANTS: constant(uint256) = 64
MAX_SLASHES: constant(uint256) = 16
EQUIVOCATION: constant(uint8) = 1
FAILED_VERIFICATION: constant(uint8) = 2
MIN_ATTESTERS: constant(uint256) = 3
MAX_ATTESTERS: constant(uint256) = 8
ATTESTATION_MAX_AGE: constant(uint256) = 86400

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
SETTLEMENT_TYPEHASH: constant(bytes32) = keccak256(
    "Settlement(address committer,uint256 batch,bytes32 root,bytes32 participants,bytes32 changes,bytes32 slashes)"
)
NAME_HASH: constant(bytes32) = keccak256("SwarmConsensus")
CAPABILITY_TYPEHASH: constant(bytes32) = keccak256(
    "Capability(address node,string model,uint256 score,uint256 issued)"
)
VERSION_HASH: constant(bytes32) = keccak256("1")
SECP256K1_HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

event ReputationChanged:
    node: indexed(address)
    delta: int256
    reputation: int256
    committer: indexed(address)
    batch: uint256

event Slashed:
    node: indexed(address)
    amount: uint256
    kind: uint8
    evidence: bytes32
    committer: indexed(address)
    batch: uint256

event Attested:
    node: indexed(address)
    model: String[128]
    attesters: DynArray[address, MAX_ATTESTERS]
    scores: DynArray[uint256, MAX_ATTESTERS]

event Settled:
    committer: indexed(address)
    batch: indexed(uint256)
    signers: uint256

slash_bps: public(uint256)
settled: public(HashMap[address, HashMap[uint256, bool]])


@deploy
def __init__(
    min_stake: uint256,
    unbonding_delay: uint256,
    initial_reputation: int256,
    slash_bps: uint256,
    genesis_seats: uint256,
    inactivity_limit: uint256,
):
    assert slash_bps <= 10000, "slash_bps above 10000"
    registry.__init__(min_stake, unbonding_delay, initial_reputation, genesis_seats, inactivity_limit)
    self.slash_bps = slash_bps


@internal
@view
def _domain() -> bytes32:
    return keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self))


@external
@view
def domain_separator() -> bytes32:
    return self._domain()


@external
@view
def settlement_digest(
    committer: address,
    batch: uint256,
    root: bytes32,
    participants: bytes32,
    changes: bytes32,
    slashes: bytes32,
) -> bytes32:
    """@notice The EIP-712 digest a signer signs (for clients to check their encoding)."""
    return self._digest(committer, batch, root, participants, changes, slashes)


@internal
@view
def _digest(
    committer: address,
    batch: uint256,
    root: bytes32,
    participants: bytes32,
    changes: bytes32,
    slashes: bytes32,
) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(SETTLEMENT_TYPEHASH, committer, batch, root, participants, changes, slashes)
    )
    return keccak256(concat(b"\x19\x01", self._domain(), struct_hash))


@internal
@pure
def _signer(digest: bytes32, signature: Bytes[65]) -> address:
    assert len(signature) == 65, "a signature is 65 bytes"
    r: uint256 = convert(extract32(signature, 0), uint256)
    s: uint256 = convert(extract32(signature, 32), uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    assert s <= SECP256K1_HALF_N, "malleable signature"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "invalid signature"
    return signer


@internal
@pure
def _contains(items: DynArray[address, MAX_PARTICIPANTS], item: address) -> bool:
    for x: address in items:
        if x == item:
            return True
    return False


@external
def settle(
    committer: address,
    batch: uint256,
    root: bytes32,
    participants: DynArray[address, MAX_PARTICIPANTS],
    nodes: DynArray[address, MAX_PARTICIPANTS],
    deltas: DynArray[int256, MAX_PARTICIPANTS],
    slashed: DynArray[address, MAX_SLASHES],
    kinds: DynArray[uint8, MAX_SLASHES],
    evidence: DynArray[bytes32, MAX_SLASHES],
    signatures: DynArray[Bytes[65], MAX_PARTICIPANTS],
):
    """@notice Apply one committed batch's reputation changes and slashes, approved by a
               quorum of its participants (anyone may submit it)."""
    assert not self.settled[committer][batch], "batch already settled"
    assert root != empty(bytes32) and commitments.root[committer][batch] == root, "root not committed"
    assert len(nodes) == len(deltas), "nodes and deltas differ in length"
    assert len(slashed) == len(kinds) and len(kinds) == len(evidence), "slash lists differ in length"
    n: uint256 = len(participants)
    need: uint256 = max(2, n // 2 + 1)
    assert len(signatures) >= need, "under quorum"

    digest: bytes32 = self._digest(
        committer,
        batch,
        root,
        keccak256(abi_encode(participants)),
        keccak256(abi_encode(nodes, deltas)),
        keccak256(abi_encode(slashed, kinds, evidence)),
    )
    seen: DynArray[address, MAX_PARTICIPANTS] = []
    for signature: Bytes[65] in signatures:
        signer: address = self._signer(digest, signature)
        assert self._contains(participants, signer), "signer is not a participant"
        assert registry._active(signer), "signer is not a staked member"
        assert not self._contains(seen, signer), "duplicate signer"
        seen.append(signer)

    self.settled[committer][batch] = True
    for p: address in participants:
        if registry._registered(p):
            registry._seen(p)
    for i: uint256 in range(len(nodes), bound=MAX_PARTICIPANTS):
        node: address = nodes[i]
        assert self._contains(participants, node) and registry._registered(node), "not a registered participant"
        registry._change_reputation(node, deltas[i])
        log ReputationChanged(node=node, delta=deltas[i], reputation=registry.member[node].reputation, committer=committer, batch=batch)
    for i: uint256 in range(len(slashed), bound=MAX_SLASHES):
        node: address = slashed[i]
        assert self._contains(participants, node) and registry._registered(node), "not a registered participant"
        assert kinds[i] == EQUIVOCATION or kinds[i] == FAILED_VERIFICATION, "unknown slash kind"
        amount: uint256 = registry._slash(node, self.slash_bps)
        log Slashed(node=node, amount=amount, kind=kinds[i], evidence=evidence[i], committer=committer, batch=batch)
    log Settled(committer=committer, batch=batch, signers=len(seen))


@internal
@view
def _capability_digest(node: address, model: String[128], score: uint256, issued: uint256) -> bytes32:
    struct_hash: bytes32 = keccak256(
        abi_encode(CAPABILITY_TYPEHASH, node, keccak256(model), score, issued)
    )
    return keccak256(concat(b"\x19\x01", self._domain(), struct_hash))


@external
@view
def capability_digest(node: address, model: String[128], score: uint256, issued: uint256) -> bytes32:
    """@notice The EIP-712 digest an attester signs."""
    return self._capability_digest(node, model, score, issued)


@external
def attest(
    node: address,
    scores: DynArray[uint256, MAX_ATTESTERS],
    issued: DynArray[uint256, MAX_ATTESTERS],
    signatures: DynArray[Bytes[65], MAX_ATTESTERS],
):
    """@notice Admit a registered node to rounds (again) with its attesters' signatures
               over its current model (anyone may submit them)."""
    assert registry._registered(node), "not registered"
    assert len(signatures) >= MIN_ATTESTERS, "too few attestations"
    assert len(scores) == len(signatures) and len(issued) == len(signatures), "attestation lists differ in length"
    model: String[128] = registry.member[node].model
    seen: DynArray[address, MAX_ATTESTERS] = []
    for i: uint256 in range(len(signatures), bound=MAX_ATTESTERS):
        assert issued[i] <= block.timestamp, "attestation issued in the future"
        assert issued[i] + ATTESTATION_MAX_AGE >= block.timestamp, "attestation too old"
        signer: address = self._signer(self._capability_digest(node, model, scores[i], issued[i]), signatures[i])
        assert signer != node, "a node cannot attest itself"
        assert registry._capable(signer), "attester is not a capable member"
        assert keccak256(registry.member[signer].model) == keccak256(model), "attester serves another model"
        for s: address in seen:
            assert s != signer, "duplicate attester"
        seen.append(signer)
    registry._admit(node)
    registry.member[node].attestation = keccak256(abi_encode(signatures))
    log Attested(node=node, model=model, attesters=seen, scores=scores)
