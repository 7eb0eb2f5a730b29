"""Proof-of-capability with the real model: a newcomer calibrated by three of four founders,
the cheats that fail, entry refused without attestations or without stake, and the
re-test after a change of model.

Real: vLLM's OpenAI server with SmolLM2 (shared by every node here), keys, the
contract on the embedded py-evm chain, HTTP on loopback, the logs. The cheats are
candidates that lie in their replies (made-up log-probabilities, random token ids,
always "1", and honest replies with one token changed, the way another model's
answers differ); `benchmarks/calibration.py` measures a real cut model.
"""

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account

from node.app import RunningNode, start_node
from node.calibration import reply
from node.chain.membership import join, refresh, write
from node.chain.outbox import Outbox
from node.config import load_config
from node.inference.openai_backend import OpenAIBackend
from node.journal import Journal
from node.local import LocalSwarm, start_local_swarm
from reputation.calibration import ALLOWED_CHECK_FAILURES, PASS_SCORE
from reputation.envelope import sign_envelope
from reputation.messages import (
    AnsweringReply,
    AttestationPayload,
    CalibrateRequestPayload,
    ChallengePayload,
    RepliesPayload,
)

pytestmark = pytest.mark.engine
MODEL = "smollm2-135m"


@dataclasses.dataclass
class World:
    founders: LocalSwarm
    backend: OpenAIBackend
    home: Path
    newcomer: RunningNode | None = None


@pytest.fixture(scope="module")
async def world(vllm_server: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    backend = await OpenAIBackend.create(vllm_server.base_url, MODEL)
    home = tmp_path_factory.mktemp("calibration")
    base = load_config(None, env={}, overrides={"sampling": {"max_tokens": 32}})
    founders = await start_local_swarm(4, 0, home, base, backend)  # four genesis seats
    w = World(founders, backend, home)
    try:
        yield w
    finally:
        if w.newcomer is not None:
            await w.newcomer.stop()
        await founders.stop()
        await backend.close()


async def test_a_newcomer_is_calibrated_by_three_founders_and_admitted(world: World) -> None:
    f0 = world.founders.nodes[0]
    account = Account.create()
    config = dataclasses.replace(
        f0.ctx.config,
        server=dataclasses.replace(f0.ctx.config.server, port=0),
        log_path=str(world.home / "newcomer.db"),
    )
    # start_node registers (the genesis seats are taken), is calibrated, attests
    world.newcomer = node = await start_node(
        config, account, world.backend, f0.ctx.speed, world.founders.embedded
    )
    chain = node.ctx.chain.chain
    assert await chain.capable(account.address)
    (event,) = await chain.events("Attested")
    assert event["args"]["node"] == account.address
    attesters = set(event["args"]["attesters"])
    assert len(attesters) == 3 and attesters <= {n.ctx.address for n in world.founders.nodes}
    assert all(s >= PASS_SCORE for s in event["args"]["scores"])
    for founder in world.founders.nodes:  # each logged the attestation it signed
        await refresh(chain, founder.ctx.peers, founder.ctx.chain.history)
        assert account.address in founder.ctx.peers.registered()


async def _exchange(
    attester: RunningNode, account: Any, backend: Any, lie: Callable[..., Any]
) -> AttestationPayload:
    """One calibration session with `attester`, replied to by `lie(backend, challenge)`."""
    chain = attester.ctx.chain.chain
    request = CalibrateRequestPayload(model=MODEL, chain_id=chain.chain_id, contract=chain.address)
    async with aiohttp.ClientSession() as http:

        async def post(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
            message = sign_envelope(account, kind, None, payload)
            async with http.post(attester.url + "/swarm/v1/calibrate", json=message) as r:
                body = await r.json()
                assert r.status == 200, body
                return dict(body["payload"])

        challenge = ChallengePayload.model_validate(
            await post("calibrate_request", request.model_dump())
        )
        verdict = await post("calibrate_replies", (await lie(backend, challenge)).model_dump())
        return AttestationPayload.model_validate(verdict)


async def _random(backend: Any, c: ChallengePayload) -> RepliesPayload:
    rng = random.Random(1)
    return RepliesPayload(
        session=c.session,
        judging=[[rng.uniform(-6, 0), rng.uniform(-6, 0)] for _ in c.judging],
        answering=[
            AnsweringReply(text="42", token_ids=[rng.randrange(49152) for _ in range(12)])
            for _ in c.answering
        ],
    )


async def _always_one(backend: Any, c: ChallengePayload) -> RepliesPayload:
    one = await backend.tokenize("1")
    return RepliesPayload(
        session=c.session,
        judging=[[-1.0, -2.0] for _ in c.judging],
        answering=[AnsweringReply(text="1", token_ids=one) for _ in c.answering],
    )


async def _another_model(backend: Any, c: ChallengePayload) -> RepliesPayload:
    """The honest replies with each log-probability 0.2 nats off and each answer's first
    token another one: what a different model's replies look like to the attester."""
    r = await reply(backend, c)
    return r.model_copy(
        update={
            "judging": [[a - 0.2, b + 0.2] for a, b in r.judging],
            "answering": [
                a.model_copy(update={"token_ids": [(a.token_ids[0] + 1) % 49152, *a.token_ids[1:]]})
                for a in r.answering
            ],
        }
    )


async def _staked(world: World) -> Any:
    """A new key, registered with its stake (only members get a session), known to
    every founder (their registry read)."""
    account = Account.create()
    chain = world.founders.nodes[0].ctx.chain.chain
    embedded = world.founders.embedded
    assert embedded is not None
    await embedded.fund(account.address, 10 * 10**18)
    journal = await Journal.open(world.home / f"{account.address}.db")
    own = Outbox(chain, account, journal)
    drain = asyncio.create_task(own.run())
    try:
        await join(chain, own, account, "http://127.0.0.1:9", MODEL, 10**18, 60)
    finally:
        drain.cancel()
        await journal.close()
    for founder in world.founders.nodes:
        await refresh(chain, founder.ctx.peers, founder.ctx.chain.history)
    return account


@pytest.mark.parametrize("lie", [_random, _always_one, _another_model], ids=lambda f: f.__name__)
async def test_cheats_fail_their_checks_and_get_no_signature(world: World, lie: Any) -> None:
    cheat = await _staked(world)
    verdict = await _exchange(world.founders.nodes[1], cheat, world.backend, lie)
    assert not verdict.passed and verdict.signature == ""
    total = verdict.judging[1] + verdict.answering[1]
    # replies that could not pass are not checked with the model at all; the others
    # are checked until more checks failed than a pass allows
    unchecked = "not checked with the model" in verdict.reasons[-1]
    assert unchecked or verdict.check_failures > ALLOWED_CHECK_FAILURES * total, verdict


async def test_a_new_model_is_tested_again(world: World) -> None:
    f3 = world.founders.nodes[3]
    link = f3.ctx.chain
    chain = link.chain
    before = len(await chain.events("Attested"))
    for model in ("another-model", MODEL):  # a model change clears the admission
        await join(chain, link.outbox, f3.ctx.account, f3.url, model, 10**18, 60)
    assert not await chain.capable(f3.ctx.address)
    # the node's own registry refresh notices and has it calibrated again (by three of
    # the other founders and the newcomer, so one attester to spare)
    for _ in range(600):
        if await chain.capable(f3.ctx.address):
            break
        await asyncio.sleep(0.5)
    assert await chain.capable(f3.ctx.address)
    (event,) = (await chain.events("Attested"))[before:]
    assert event["args"]["node"] == f3.ctx.address
    assert f3.ctx.address not in event["args"]["attesters"]


async def test_entry_needs_attestations_and_stake(world: World) -> None:
    f0 = world.founders.nodes[0]
    chain = f0.ctx.chain.chain
    # a member that registered and staked but was never attested takes no part
    stranger = Account.create()
    embedded = world.founders.embedded
    assert embedded is not None
    await embedded.fund(stranger.address, 10 * 10**18)
    journal = await Journal.open(world.home / "stranger.db")
    own = Outbox(chain, stranger, journal)
    drain = asyncio.create_task(own.run())
    try:
        await join(chain, own, stranger, "http://127.0.0.1:9", MODEL, 10**18, 60)
        assert (await chain.member(stranger.address)).active(await chain.min_stake())
        await refresh(chain, f0.ctx.peers, f0.ctx.chain.history)
        assert stranger.address not in f0.ctx.peers.registered()
        announce = sign_envelope(stranger, "announce", "0x" + "ab" * 32, {"messages": []})
        async with (
            aiohttp.ClientSession() as http,
            http.post(f0.url + "/swarm/v1/answer", json=announce) as r,
        ):
            assert r.status == 403 and (await r.json())["error"]["code"] == "unknown_sender"
    finally:
        drain.cancel()
        await journal.close()
    # a capable member that unstakes below the minimum leaves the draws
    node = world.newcomer
    assert node is not None
    await write(node.ctx.chain.outbox, "unstake:all", "request_unstake", [10**18], 0, 60)
    assert not await chain.capable(node.ctx.address)
    await refresh(chain, f0.ctx.peers, f0.ctx.chain.history)
    assert node.ctx.address not in f0.ctx.peers.registered()
