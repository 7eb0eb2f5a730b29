"""`POST /swarm/v1/calibrate`: what an attester refuses before any work, and a session
taken over by another sender.

Real: keys, signatures, the contract on the embedded chain, HTTP on loopback. The
engine is the scripted stand-in (`tests/scripted.py`): these branches never reach
the model, and the scripted model scores no real challenge.
"""

from typing import Any

import aiohttp
import pytest
from eth_account import Account

from node.chain.membership import refresh
from reputation.envelope import sign_envelope
from reputation.messages import CalibrateRequestPayload
from tests.node.chain.test_calibration_sessions import staked
from tests.node.round.test_branches import nodes, text


async def _post(url: str, message: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/swarm/v1/calibrate", json=message) as r,
    ):
        return r.status, await r.json()


def _request(node: Any, **change: Any) -> dict[str, Any]:
    chain = node.ctx.chain.chain
    fields = {"model": "scripted-lm", "chain_id": chain.chain_id, "contract": chain.address}
    return CalibrateRequestPayload(**{**fields, **change}).model_dump()


@pytest.fixture
async def swarm(scripted_swarm, model):
    async with scripted_swarm(nodes(model, [text(t) for t in "abc"])) as s:
        yield s


@pytest.fixture
def attester(swarm):
    return swarm.nodes[0]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"chain_id": 1}, 400, "wrong_chain"),
        ({"contract": "0x" + "12" * 20}, 400, "wrong_chain"),
        ({"model": "smollm2-135m"}, 400, "model_mismatch"),
    ],
)
async def test_a_request_for_another_chain_or_model_is_refused(
    attester: Any, change: dict[str, Any], status: int, code: str
) -> None:
    message = sign_envelope(
        Account.create(), "calibrate_request", None, _request(attester, **change)
    )
    got, body = await _post(attester.url, message)
    assert (got, body["error"]["code"]) == (status, code)


async def test_malformed_forged_and_self_requests_are_refused(attester: Any) -> None:
    candidate = Account.create()
    good = sign_envelope(candidate, "calibrate_request", None, _request(attester))
    forged = {**good, "payload": {**good["payload"], "model": "x"}}
    assert (await _post(attester.url, forged))[0] == 401
    assert (await _post(attester.url, {"type": "answer"}))[0] == 400
    own = sign_envelope(attester.ctx.account, "calibrate_request", None, _request(attester))
    status, body = await _post(attester.url, own)
    assert (status, body["error"]["code"]) == (400, "self_calibration")


async def test_one_open_session_per_candidate_and_only_it_may_reply(swarm: Any) -> None:
    attester = swarm.nodes[0]
    candidate, thief = Account.create(), Account.create()
    await staked(swarm, candidate)  # sessions are for staked members only
    status, challenge = await _post(
        attester.url, sign_envelope(candidate, "calibrate_request", None, _request(attester))
    )
    assert status == 200 and challenge["type"] == "challenge"
    assert challenge["sender"] == attester.ctx.address
    assert challenge["payload"]["node"] == candidate.address
    again = sign_envelope(candidate, "calibrate_request", None, _request(attester))
    status, body = await _post(attester.url, again)
    assert (status, body["error"]["code"]) == (409, "session_open")
    replies = {"session": challenge["payload"]["session"], "judging": [], "answering": []}
    stolen = sign_envelope(thief, "calibrate_replies", None, replies)
    status, body = await _post(attester.url, stolen)
    assert (status, body["error"]["code"]) == (404, "unknown_session")
    # the candidate's own replies must answer every challenge
    short = sign_envelope(candidate, "calibrate_replies", None, replies)
    status, body = await _post(attester.url, short)
    assert status == 400 and "one to one" in body["error"]["message"]


async def test_an_attester_that_is_not_capable_does_not_attest(attester: Any) -> None:
    link = attester.ctx.chain
    await link.outbox.put("unstake", "request_unstake", [10**18], 0)
    await link.outbox.wait("unstake", 60)
    await refresh(link.chain, attester.ctx.peers, link.history)  # what the refresh loop does
    message = sign_envelope(Account.create(), "calibrate_request", None, _request(attester))
    status, body = await _post(attester.url, message)
    assert (status, body["error"]["code"]) == (409, "not_capable")
