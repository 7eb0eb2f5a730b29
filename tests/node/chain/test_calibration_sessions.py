"""Calibration sessions cannot be held or wasted for free: only registered, staked
members that are not capable yet get one (from the cached registry), replies that
cannot pass cost the attester no engine time, a junk session stops after one batch
of checks, and a failed candidate is cooled down.

Real: keys, signatures, the contract on the embedded chain (candidates register and
stake on it), HTTP on loopback. The engine is the scripted stand-in
(`tests/scripted.py`), wrapped to count its teacher-forced prefills.
"""

import asyncio
from typing import Any

import pytest
from eth_account import Account

from node.calibration import CHECK_BATCH, Attester, calibrate
from node.chain.membership import join, refresh
from node.chain.outbox import Outbox
from node.journal import Journal
from reputation.envelope import sign_envelope
from reputation.messages import CalibrateRequestPayload
from tests.node.round.crafted import post
from tests.node.round.test_branches import nodes, text
from tests.scripted import EOS, MODEL_ID, ScriptedBackend, encode

PATH = "/swarm/v1/calibrate"


def request(node: Any) -> dict[str, Any]:
    chain = node.ctx.chain.chain
    return CalibrateRequestPayload(
        model=MODEL_ID, chain_id=chain.chain_id, contract=chain.address
    ).model_dump()


async def staked(swarm: Any, account: Any, read: bool = True) -> None:
    """Register and stake `account` on the swarm's chain; with `read`, every node reads
    the registry again (as its refresh loop would within `chain.refresh_seconds`)."""
    chain = swarm.nodes[0].ctx.chain.chain
    await swarm.swarm.embedded.fund(account.address, 10 * 10**18)
    journal = await Journal.open(swarm.home / f"{account.address}.db")
    outbox = Outbox(chain, account, journal)
    drain = asyncio.create_task(outbox.run())
    try:
        await join(chain, outbox, account, "http://127.0.0.1:9", MODEL_ID, 10**18, 60)
    finally:
        drain.cancel()
        await journal.close()
    for node in swarm.nodes if read else []:
        await refresh(chain, node.ctx.peers, node.ctx.chain.history)


class Prefills:
    def __init__(self, backend: Any):
        self.count = 0
        real = backend.teacher_force

        async def counted(*args: Any) -> Any:
            self.count += 1
            return await real(*args)

        backend.teacher_force = counted


@pytest.fixture
async def swarm(scripted_swarm, model):
    async with scripted_swarm(nodes(model, [text(t) for t in "abc"])) as s:
        yield s


async def test_sessions_for_keys_that_are_no_staked_member_are_refused(swarm) -> None:
    attester = swarm.nodes[0]
    status, body, headers = await post(
        attester.url,
        PATH,
        sign_envelope(Account.create(), "calibrate_request", None, request(attester)),
    )
    assert (status, body["error"]["code"]) == (403, "not_a_member")
    assert int(headers["Retry-After"]) >= 1  # a member registered since: ask after a refresh
    assert attester.ctx.calibrations == {}
    # a capable member needs no session
    founder = swarm.nodes[1].ctx.account
    status, body, _ = await post(
        attester.url, PATH, sign_envelope(founder, "calibrate_request", None, request(attester))
    )
    assert (status, body["error"]["code"]) == (409, "already_capable")


def junk(challenge: dict[str, Any], right: list[bool] | None = None) -> dict[str, Any]:
    """Replies of a valid shape: made-up log-probabilities (preferring the better answer
    where `right` says so, else always the first) and answers of "0"."""
    payload = challenge["payload"]
    prefer = right or [True] * len(payload["judging"])
    return {
        "session": payload["session"],
        "judging": [[-1.0, -2.0] if first else [-2.0, -1.0] for first in prefer],
        "answering": [
            {"text": "0", "token_ids": [*encode("0"), EOS]} for _ in payload["answering"]
        ],
    }


async def test_a_junk_reply_runs_no_prefill_and_cools_the_candidate_down(swarm) -> None:
    attester = swarm.nodes[0]
    prefills = Prefills(attester.ctx.backend)
    candidate = Account.create()
    await staked(swarm, candidate)
    ask = sign_envelope(candidate, "calibrate_request", None, request(attester))
    status, challenge, _ = await post(attester.url, PATH, ask)
    assert status == 200 and challenge["type"] == "challenge", challenge
    replies = sign_envelope(candidate, "calibrate_replies", None, junk(challenge))
    status, verdict, _ = await post(attester.url, PATH, replies)
    assert status == 200 and verdict["type"] == "attestation", verdict
    assert verdict["payload"]["passed"] is False
    assert "not checked with the model" in verdict["payload"]["reasons"][-1]
    assert prefills.count == 0
    # the failed candidate waits out its cool-down before another session here
    again = sign_envelope(candidate, "calibrate_request", None, request(attester))
    status, body, headers = await post(attester.url, PATH, again)
    assert (status, body["error"]["code"]) == (429, "cooling_down")
    assert int(headers["Retry-After"]) > 60


async def test_replies_that_fail_their_checks_stop_after_one_batch(swarm) -> None:
    attester = swarm.nodes[0]
    prefills = Prefills(attester.ctx.backend)
    candidate = Account.create()
    await staked(swarm, candidate)
    ask = sign_envelope(candidate, "calibrate_request", None, request(attester))
    status, challenge, _ = await post(attester.url, PATH, ask)
    assert status == 200, challenge
    # a candidate that somehow names every better answer, with made-up numbers: the
    # preferences could pass, the numbers fail the first batch's checks
    (session,) = attester.ctx.calibrations.values()
    replies = junk(challenge, list(session.better_first))
    status, verdict, _ = await post(
        attester.url, PATH, sign_envelope(candidate, "calibrate_replies", None, replies)
    )
    assert status == 200 and verdict["payload"]["passed"] is False, verdict
    assert any("not checked" in r for r in verdict["payload"]["reasons"])
    assert prefills.count == 2 * CHECK_BATCH  # two prefills per judging reply, one batch


async def test_a_session_left_unanswered_past_its_deadline_cools_its_candidate(swarm) -> None:
    attester = swarm.nodes[0]
    candidate = Account.create()
    await staked(swarm, candidate)
    ask = sign_envelope(candidate, "calibrate_request", None, request(attester))
    status, challenge, _ = await post(attester.url, PATH, ask)
    assert status == 200, challenge
    assert challenge["payload"]["deadline"] - challenge["timestamp"] <= 301  # the short deadline
    # the deadline passes (set back rather than waited for)
    sid, session = next(iter(attester.ctx.calibrations.items()))
    late = session.challenge.model_copy(update={"deadline": 0.0})
    attester.ctx.calibrations[sid] = type(session)(
        session.node, late, session.better_first, session.answers
    )
    again = sign_envelope(candidate, "calibrate_request", None, request(attester))
    status, body, _ = await post(attester.url, PATH, again)
    assert (status, body["error"]["code"]) == (429, "cooling_down")
    assert attester.ctx.calibrations == {}


async def test_a_member_registered_since_the_last_registry_read_asks_again(
    scripted_swarm, model
) -> None:
    every = {"refresh_seconds": 3.0}  # what the attester's Retry-After says
    async with scripted_swarm(nodes(model, [text(t) for t in "abc"]), chain=every) as s:
        attester, candidate = s.nodes[0], Account.create()
        await staked(s, candidate, read=False)  # the attester has not read it yet
        payload = CalibrateRequestPayload.model_validate(request(attester))
        run = asyncio.create_task(
            calibrate(
                candidate,
                ScriptedBackend(model, "0"),
                payload,
                [Attester(attester.ctx.address, attester.url)],
                1,
                60,
            )
        )
        refused = attester.ctx.metrics.http.labels(PATH, "403")
        while refused._value.get() < 1 and not run.done():  # its first request: 403
            await asyncio.sleep(0.01)
        link = attester.ctx.chain
        await refresh(link.chain, attester.ctx.peers, link.history)  # what its loop does
        got, problems = await run  # the candidate waited as told and asked again
        assert refused._value.get() == 1
        assert problems == [] and len(got) == 1  # a session, and its attestation
        assert got[0][1].node == candidate.address
