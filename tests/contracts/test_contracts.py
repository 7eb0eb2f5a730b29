"""The contract on titanoboa's EVM: every path and every refusal.

The compiled sources are the ones committed (`test_artifacts.py` checks that the
artifact matches them). Each test runs in an anchored copy of one deployment, so
no state leaks between tests.
"""

from collections.abc import Iterator
from typing import Any

import boa
import pytest
from eth_account import Account

from contracts import merkle
from contracts.artifacts import MAIN
from contracts.capability import Attestation
from contracts.capability import sign as attest_sign
from contracts.params import ChainParams
from contracts.settlement import EQUIVOCATION, FAILED_VERIFICATION, SCALE, Settlement, Slash, sign

MIN_STAKE = 10**18
DELAY = 3600
MODEL = "smollm2-135m"
LIMIT = 30 * 24 * 3600
PARAMS = ChainParams(MIN_STAKE, DELAY, SCALE, 1000, genesis_seats=4, inactivity_limit=LIMIT)


@pytest.fixture(scope="module")
def factory() -> Any:
    return boa.load_partial(str(MAIN))


@pytest.fixture(scope="module")
def nodes() -> list[Any]:
    """Six funded accounts (eth-account, so they can sign typed data)."""
    accounts = [Account.create() for _ in range(6)]
    for a in accounts:
        boa.env.set_balance(a.address, 100 * MIN_STAKE)
    return accounts


@pytest.fixture
def swarm(factory: Any, nodes: list[Any]) -> Iterator[Any]:
    with boa.env.anchor():
        contract = factory.deploy(*PARAMS.constructor())
        for i, node in enumerate(nodes[:4]):
            with boa.env.prank(node.address):
                contract.register(f"http://127.0.0.1:{8000 + i}", MODEL, value=MIN_STAKE)
        yield contract


def chain_id() -> int:
    return int(boa.env.evm.patch.chain_id)


def committed(swarm: Any, committer: Any, batch: int = 0) -> bytes:
    root = merkle.root(["0x" + bytes([batch, i] + [0] * 30).hex() for i in range(3)])
    with boa.env.prank(committer.address):
        swarm.commit(batch, root, 3)
    return root


def signed(
    settlement: Settlement, signers: list[Any], swarm: Any, chain: int | None = None
) -> list[Any]:
    sigs = [sign(s, settlement, chain or chain_id(), swarm.address) for s in signers]
    return settlement.call_args(sigs)


# -- registry -------------------------------------------------------------------


def test_register_lists_the_member(swarm: Any, nodes: list[Any]) -> None:
    assert swarm.count() == 4
    page = swarm.members(1, 2)
    assert [m[0] for m in page] == [nodes[1].address, nodes[2].address]
    member = swarm.member(nodes[0].address)
    assert member[1] == "http://127.0.0.1:8000" and member[2] == "smollm2-135m"
    assert member[4] == MIN_STAKE and member[7] == SCALE
    assert swarm.active(nodes[0].address) and not swarm.active(nodes[4].address)


def test_double_registration_is_refused(swarm: Any, nodes: list[Any]) -> None:
    with boa.env.prank(nodes[0].address), boa.reverts("already registered"):
        swarm.register("http://x", "m", value=MIN_STAKE)


def test_registration_needs_the_minimum_stake(swarm: Any, nodes: list[Any]) -> None:
    with boa.env.prank(nodes[4].address), boa.reverts("stake below the minimum"):
        swarm.register("http://x", "m", value=MIN_STAKE - 1)


def test_update_of_the_endpoint_keeps_the_admission(swarm: Any, nodes: list[Any]) -> None:
    with boa.env.prank(nodes[0].address):
        swarm.update("http://127.0.0.1:9999", MODEL)
    member = swarm.member(nodes[0].address)
    assert member[1] == "http://127.0.0.1:9999" and member[2] == MODEL
    assert swarm.capable(nodes[0].address)
    with boa.env.prank(nodes[4].address), boa.reverts("not registered"):
        swarm.update("http://x", MODEL)


def test_stake_and_unstake_after_the_delay(swarm: Any, nodes: list[Any]) -> None:
    node = nodes[0].address
    with boa.env.prank(node):
        swarm.stake(value=2 * MIN_STAKE)
        assert swarm.member(node)[4] == 3 * MIN_STAKE
        with boa.reverts("amount exceeds the stake"):
            swarm.request_unstake(4 * MIN_STAKE)
        swarm.request_unstake(2 * MIN_STAKE)
        with boa.reverts("still unbonding"):
            swarm.withdraw()
        boa.env.time_travel(seconds=DELAY - 10)
        with boa.reverts("still unbonding"):
            swarm.withdraw()
        boa.env.time_travel(seconds=10)
        before = boa.env.get_balance(node)
        swarm.withdraw()
        assert boa.env.get_balance(node) == before + 2 * MIN_STAKE
        with boa.reverts("nothing unbonding"):
            swarm.withdraw()
    assert swarm.member(node)[4] == MIN_STAKE


def test_unstaking_below_the_minimum_leaves_the_active_set(swarm: Any, nodes: list[Any]) -> None:
    with boa.env.prank(nodes[0].address):
        swarm.request_unstake(1)
    assert not swarm.active(nodes[0].address)


# -- commitments ----------------------------------------------------------------


def test_commit_in_order_and_replays_are_harmless(swarm: Any, nodes: list[Any]) -> None:
    a = nodes[0].address
    with boa.env.prank(a):
        with boa.reverts("batches are committed in order"):
            swarm.commit(1, b"\1" * 32, 1)
        swarm.commit(0, b"\1" * 32, 1)
        swarm.commit(0, b"\1" * 32, 1)  # the same transaction again: nothing happens
        assert swarm.batches(a) == 1
        with boa.reverts("batch already committed with another root"):
            swarm.commit(0, b"\2" * 32, 1)
        with boa.reverts("empty root"):
            swarm.commit(1, b"\0" * 32, 1)
    with boa.env.prank(nodes[4].address), boa.reverts("not registered"):
        swarm.commit(0, b"\1" * 32, 1)


@pytest.mark.parametrize("size", [1, 2, 5, 8, 13])
def test_inclusion_proofs_check_on_chain(swarm: Any, nodes: list[Any], size: int) -> None:
    digests = ["0x" + bytes([size, i] + [7] * 30).hex() for i in range(size)]
    with boa.env.prank(nodes[1].address):
        swarm.commit(0, merkle.root(digests), size)
    for i, d in enumerate(digests):
        assert swarm.proves(nodes[1].address, 0, bytes.fromhex(d[2:]), merkle.proof(digests, i))


def test_a_wrong_inclusion_proof_fails(swarm: Any, nodes: list[Any]) -> None:
    digests = ["0x" + bytes([9, i] + [1] * 30).hex() for i in range(6)]
    a = nodes[1].address
    with boa.env.prank(a):
        swarm.commit(0, merkle.root(digests), 6)
    d2 = bytes.fromhex(digests[2][2:])
    good = merkle.proof(digests, 2)
    assert swarm.proves(a, 0, d2, good)
    assert not swarm.proves(a, 0, d2, merkle.proof(digests, 3))  # another leaf's proof
    assert not swarm.proves(a, 0, b"\5" * 32, good)  # a digest not in the batch
    assert not swarm.proves(a, 1, d2, good)  # a batch not committed
    assert not swarm.proves(nodes[0].address, 0, d2, good)  # another node's batch
    assert not swarm.proves(a, 0, d2, good[:-1])  # a truncated proof
    # a leaf's hash cannot pass for an inner node
    assert not swarm.proves(a, 0, merkle.leaf(digests[2]), good[1:])


# -- settlements ----------------------------------------------------------------


def settlement(nodes: list[Any], root: bytes, batch: int = 0, **kw: Any) -> Settlement:
    return Settlement(
        committer=nodes[0].address,
        batch=batch,
        root=root,
        participants=tuple(n.address for n in nodes[:3]),
        changes=kw.pop("changes", ((nodes[1].address, SCALE), (nodes[2].address, -10 * SCALE))),
        **kw,
    )


def test_a_quorum_changes_reputation_and_slashes(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root, slashes=(Slash(nodes[2].address, FAILED_VERIFICATION, b"\3" * 32),))
    swarm.settle(*signed(s, nodes[:2], swarm))
    events = [type(e).__name__ for e in swarm.get_logs()]
    assert events.count("ReputationChanged") == 2 and "Slashed" in events and "Settled" in events
    assert swarm.member(nodes[1].address)[7] == 2 * SCALE
    assert swarm.member(nodes[2].address)[7] == -9 * SCALE
    assert swarm.member(nodes[2].address)[4] == MIN_STAKE * 9 // 10
    assert swarm.settled(nodes[0].address, 0)
    with boa.reverts("batch already settled"):
        swarm.settle(*signed(s, nodes[:2], swarm))


def test_the_digest_matches_the_clients_encoding(swarm: Any, nodes: list[Any]) -> None:
    from eth_account.messages import _hash_eip191_message, encode_typed_data

    s = settlement(nodes, b"\4" * 32, slashes=(Slash(nodes[2].address, EQUIVOCATION, b"\5" * 32),))
    h = s.hashes()
    on_chain = swarm.settlement_digest(
        s.committer, s.batch, s.root, h["participants"], h["changes"], h["slashes"]
    )
    assert on_chain == _hash_eip191_message(
        encode_typed_data(full_message=s.typed(chain_id(), swarm.address))
    )


def test_one_signature_is_not_a_quorum(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    with boa.reverts("under quorum"):
        swarm.settle(*signed(settlement(nodes, root), nodes[:1], swarm))


def test_the_same_signer_twice_is_not_a_quorum(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    with boa.reverts("duplicate signer"):
        swarm.settle(*signed(settlement(nodes, root), [nodes[1], nodes[1]], swarm))


def test_signers_outside_the_participants_are_refused(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    with boa.reverts("signer is not a participant"):
        swarm.settle(*signed(settlement(nodes, root), [nodes[1], nodes[3]], swarm))


def test_unregistered_participants_cannot_sign(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    s = Settlement(nodes[0].address, 0, root, (nodes[0].address, nodes[4].address), ())
    with boa.reverts("signer is not a staked member"):
        swarm.settle(*signed(s, [nodes[0], nodes[4]], swarm))


def test_a_change_to_a_non_participant_is_refused(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root, changes=((nodes[3].address, -SCALE),))
    with boa.reverts("not a registered participant"):
        swarm.settle(*signed(s, nodes[:2], swarm))


def test_changed_deltas_invalidate_the_signatures(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    args = signed(settlement(nodes, root), nodes[:2], swarm)
    args[5] = [SCALE, 10 * SCALE]  # the submitter raises node 2's delta
    with boa.reverts():  # the signatures recover to other addresses
        swarm.settle(*args)


def test_signatures_do_not_carry_over_to_another_batch(swarm: Any, nodes: list[Any]) -> None:
    root0 = committed(swarm, nodes[0], 0)
    root1 = committed(swarm, nodes[0], 1)
    args = signed(settlement(nodes, root0, 0), nodes[:2], swarm)
    args[1], args[2] = 1, root1  # the batch 0 signatures on batch 1
    with boa.reverts("signer is not a participant"):
        swarm.settle(*args)


def test_signatures_do_not_carry_over_to_another_committer(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    with boa.env.prank(nodes[1].address):
        swarm.commit(0, root, 3)
    args = signed(settlement(nodes, root), nodes[:2], swarm)
    args[0] = nodes[1].address
    with boa.reverts("signer is not a participant"):
        swarm.settle(*args)


def test_signatures_do_not_carry_over_to_another_contract(
    factory: Any, swarm: Any, nodes: list[Any]
) -> None:
    other = factory.deploy(*PARAMS.constructor())
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root)
    with boa.reverts("signer is not a participant"):
        swarm.settle(*signed(s, nodes[:2], other))


def test_signatures_do_not_carry_over_to_another_chain(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root)
    with boa.reverts("signer is not a participant"):
        swarm.settle(*signed(s, nodes[:2], swarm, chain=chain_id() + 1))


def test_a_root_that_was_not_committed_is_refused(swarm: Any, nodes: list[Any]) -> None:
    committed(swarm, nodes[0])
    with boa.reverts("root not committed"):
        swarm.settle(*signed(settlement(nodes, b"\6" * 32), nodes[:2], swarm))


def test_an_unknown_slash_kind_is_refused(swarm: Any, nodes: list[Any]) -> None:
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root, slashes=(Slash(nodes[2].address, 7, b"\3" * 32),))
    with boa.reverts("unknown slash kind"):
        swarm.settle(*signed(s, nodes[:2], swarm))


def test_a_slash_reaches_unbonding_stake(swarm: Any, nodes: list[Any]) -> None:
    node = nodes[2].address
    with boa.env.prank(node):
        swarm.request_unstake(MIN_STAKE)
    root = committed(swarm, nodes[0])
    s = settlement(nodes, root, changes=(), slashes=(Slash(node, EQUIVOCATION, b"\3" * 32),))
    swarm.settle(*signed(s, nodes[:2], swarm))
    assert swarm.member(node)[5] == MIN_STAKE * 9 // 10


# -- proof-of-capability ---------------------------------------------------------


def newcomer(swarm: Any, node: Any, model: str = MODEL) -> None:
    """Register `node` after the genesis seats are taken: staked, not yet capable."""
    with boa.env.prank(node.address):
        swarm.register("http://127.0.0.1:8100", model, value=MIN_STAKE)


def attestations(
    swarm: Any, node: Any, attesters: list[Any], model: str = MODEL, issued: int | None = None
) -> list[Any]:
    """`attest`'s arguments with each attester's signature of a 9000 bp score."""
    when = boa.env.evm.patch.timestamp if issued is None else issued
    claim = Attestation(node.address, model, 9000, when)
    sigs = [attest_sign(a, claim, chain_id(), swarm.address) for a in attesters]
    return [node.address, [9000] * len(sigs), [when] * len(sigs), sigs]


def test_the_first_seats_are_capable_and_a_newcomer_is_not(swarm: Any, nodes: list[Any]) -> None:
    assert all(swarm.capable(n.address) for n in nodes[:4])
    assert swarm.genesis_seats() == 0
    newcomer(swarm, nodes[4])
    assert swarm.active(nodes[4].address) and not swarm.capable(nodes[4].address)


def test_three_attestations_admit_a_newcomer(swarm: Any, nodes: list[Any]) -> None:
    newcomer(swarm, nodes[4])
    swarm.attest(*attestations(swarm, nodes[4], nodes[:3]))
    (event,) = swarm.get_logs()
    assert list(event.attesters) == [n.address for n in nodes[:3]]
    assert swarm.capable(nodes[4].address)
    assert swarm.member(nodes[4].address)[3] != b"\0" * 32


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        (lambda n: n[:2], "too few attestations"),
        (lambda n: [n[0], n[1], n[0]], "duplicate attester"),
        (lambda n: [n[0], n[1], n[4]], "a node cannot attest itself"),
        (lambda n: [n[0], n[1], n[5]], "attester is not a capable member"),
    ],
)
def test_attestations_that_do_not_make_a_quorum_are_refused(
    swarm: Any, nodes: list[Any], who: Any, reason: str
) -> None:
    newcomer(swarm, nodes[4])
    with boa.reverts(reason):
        swarm.attest(*attestations(swarm, nodes[4], who(nodes)))
    assert not swarm.capable(nodes[4].address)


def test_an_attestation_names_the_model_and_a_fresh_time(swarm: Any, nodes: list[Any]) -> None:
    newcomer(swarm, nodes[4])
    now = boa.env.evm.patch.timestamp
    # signed for another model: recovers to someone who is not a member
    with boa.reverts("attester is not a capable member"):
        swarm.attest(*attestations(swarm, nodes[4], nodes[:3], model="other-model"))
    with boa.reverts("attestation too old"):
        swarm.attest(*attestations(swarm, nodes[4], nodes[:3], issued=now - 86_401))
    with boa.reverts("attestation issued in the future"):
        swarm.attest(*attestations(swarm, nodes[4], nodes[:3], issued=now + 60))


def test_attesters_must_serve_the_same_model(swarm: Any, nodes: list[Any]) -> None:
    newcomer(swarm, nodes[4], model="another-model")
    with boa.reverts("attester serves another model"):
        swarm.attest(*attestations(swarm, nodes[4], nodes[:3], model="another-model"))


def test_a_model_change_needs_a_new_test(swarm: Any, nodes: list[Any]) -> None:
    with boa.env.prank(nodes[3].address):
        swarm.update("http://127.0.0.1:8003", "bigger-model")
    assert swarm.active(nodes[3].address) and not swarm.capable(nodes[3].address)
    assert swarm.member(nodes[3].address)[2] == "bigger-model"


def test_a_long_silence_needs_a_new_test_and_a_settled_round_counts(
    swarm: Any, nodes: list[Any]
) -> None:
    boa.env.time_travel(seconds=LIMIT // 2)
    root = committed(swarm, nodes[0])
    swarm.settle(*signed(settlement(nodes, root), nodes[:2], swarm))  # nodes[:3] took part
    boa.env.time_travel(seconds=LIMIT // 2 + 60)
    assert [swarm.capable(n.address) for n in nodes[:4]] == [True, True, True, False]
    swarm.attest(*attestations(swarm, nodes[3], nodes[:3]))
    assert swarm.capable(nodes[3].address)
