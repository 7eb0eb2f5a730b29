"""What a participant refuses before any engine work: judge and verify requests of
rounds no registered member announced, prompts over the limit, more judge tasks than
a round could assign, re-execution asked by someone else than the round's coordinator.

Real keys, signatures, HTTP on loopback and logs; the engine is the scripted
stand-in (`tests.scripted`), wrapped to count what reaches it. Every refusal is also
checked to leave the receiver's log untouched.
"""

from typing import Any

import pytest
from eth_account import Account

from node.serve import PATHS
from tests.node.round.crafted import announce, answer_to, judge_request, post, verify_request
from tests.node.round.test_branches import nodes, text
from tests.scripted import ScriptedBackend


class Counted:
    """Counts the engine calls of a scripted backend (generations, verdict batches,
    teacher-forced prefills)."""

    def __init__(self, backend: ScriptedBackend):
        self.calls: list[str] = []
        for name in ("generate", "next_token_logprobs", "teacher_force"):
            real = getattr(backend, name)

            async def counted(*args: Any, _real: Any = real, _name: str = name) -> Any:
                self.calls.append(_name)
                return await _real(*args)

            setattr(backend, name, counted)


@pytest.fixture
async def swarm(scripted_swarm, model):
    async with scripted_swarm(nodes(model, [text(t) for t in "abc"])) as s:
        s.engines = [Counted(b) for b in s.backends]
        yield s


async def logged(node: Any, round_id: str) -> list[str]:
    return await node.ctx.journal.read(lambda log: [e.type for e in log.entries(round_id)])


async def test_a_judge_request_of_a_round_never_announced_is_refused_before_the_engine(
    swarm,
) -> None:
    coordinator, judge = swarm.nodes[1], swarm.nodes[0]
    request = judge_request(
        coordinator.ctx.account, "0x" + "ab" * 32, judge.ctx.address, [(text("a"), text("b"))]
    )
    status, body, _ = await post(judge.url, PATHS["judge"], request)
    assert (status, body["error"]["code"]) == (404, "unknown_round")
    assert swarm.engines[0].calls == []
    assert await logged(judge, "0x" + "ab" * 32) == []


async def announced(swarm: Any, signer: Any, **kw: Any) -> dict[str, Any]:
    """A round `signer` announced to every node of the swarm (each answered it)."""
    pool = [n.ctx.address for n in swarm.nodes]
    message = announce(signer, pool, **kw)
    for node in swarm.nodes:
        status, body, _ = await post(node.url, PATHS["answer"], message)
        assert status == 200, body
    return message


async def test_judge_requests_must_be_the_coordinators_within_the_task_budget(swarm) -> None:
    coordinator, judge, other = swarm.nodes[1], swarm.nodes[0], swarm.nodes[2]
    round_ = await announced(swarm, coordinator.ctx.account)
    rid, me = round_["round_id"], judge.ctx.address
    before = len(swarm.engines[0].calls)
    ab, ba, cc = (text("a"), text("b")), (text("b"), text("a")), (text("c"), text("a"))
    # three participants: a judge gets at most the two orders of the one pair it wrote
    # neither side of
    too_many = judge_request(coordinator.ctx.account, rid, me, [ab, ba, cc])
    status, body, _ = await post(judge.url, PATHS["judge"], too_many)
    assert (status, body["error"]["code"]) == (400, "too_many_tasks")
    twice = judge_request(coordinator.ctx.account, rid, me, [ab, ab])
    status, body, _ = await post(judge.url, PATHS["judge"], twice)
    assert (status, body["error"]["code"]) == (400, "too_many_tasks")
    # another member may not ask for the coordinator's verdicts
    status, body, _ = await post(
        judge.url, PATHS["judge"], judge_request(other.ctx.account, rid, me, [ab, ba])
    )
    assert status == 403, body
    # the conversation judged must be the announced one
    swapped = [{"role": "user", "content": "Something else entirely"}]
    status, body, _ = await post(
        judge.url, PATHS["judge"], judge_request(coordinator.ctx.account, rid, me, [ab], swapped)
    )
    assert status == 400 and "conversation" in body["error"]["message"]
    assert swarm.engines[0].calls[before:] == []
    assert "judge_request" not in await logged(judge, rid)
    # the coordinator's request within the budget is served
    status, body, _ = await post(
        judge.url, PATHS["judge"], judge_request(coordinator.ctx.account, rid, me, [ab, ba])
    )
    assert status == 200 and body["type"] == "verdict", body
    assert swarm.engines[0].calls[before:] == ["next_token_logprobs"]


async def test_an_announcement_over_the_prompt_limit_is_refused(scripted_swarm, model) -> None:
    limits = {"max_prompt_chars": 100}
    async with scripted_swarm(nodes(model, [text(t) for t in "ab"]), round=limits) as s:
        engine = Counted(s.backends[0])
        pool = [n.ctx.address for n in s.nodes]
        long = announce(s.nodes[1].ctx.account, pool, prompt="x" * 101)
        status, body, _ = await post(s.nodes[0].url, PATHS["answer"], long)
        assert (status, body["error"]["code"]) == (400, "context_length_exceeded")
        assert engine.calls == []
        short = announce(s.nodes[1].ctx.account, pool, prompt="x" * 100)
        status, body, _ = await post(s.nodes[0].url, PATHS["answer"], short)
        assert status == 200, body


async def test_verify_needs_a_registered_announcer_and_this_node_in_the_pool(swarm) -> None:
    asker, verifier = swarm.nodes[1], swarm.nodes[0]
    stranger = Account.create()
    # a stranger's round: the ids derive, the signatures recover, the pool names the
    # verifier; only the announcer is no member
    theirs = announce(stranger, [verifier.ctx.address, stranger.address])
    swarm.backends[0].model.known.add(text("x"))
    claim = answer_to(stranger, theirs, text("x"))
    status, body, _ = await post(
        verifier.url, PATHS["verify"], verify_request(asker.ctx.account, theirs, claim)
    )
    assert (status, body["error"]["code"]) == (403, "unknown_announcer")
    # a member's round whose pool leaves the verifier out
    others = announce(asker.ctx.account, [asker.ctx.address, swarm.nodes[2].ctx.address])
    claim = answer_to(asker.ctx.account, others, text("x"))
    status, body, _ = await post(
        verifier.url, PATHS["verify"], verify_request(asker.ctx.account, others, claim)
    )
    assert status == 403 and "pool" in body["error"]["message"], body
    assert swarm.engines[0].calls == []
    assert await logged(verifier, theirs["round_id"]) == []


async def test_only_the_rounds_coordinator_gets_a_re_execution_always(swarm) -> None:
    coordinator, verifier, third = swarm.nodes[1], swarm.nodes[0], swarm.nodes[2]
    pool = [n.ctx.address for n in swarm.nodes]
    round_ = announce(coordinator.ctx.account, pool)
    swarm.backends[0].model.known.add(text("x"))  # an honest answer: the checks pass
    claim = answer_to(third.ctx.account, round_, text("x"))
    ask = verify_request(third.ctx.account, round_, claim, reexecute="always")
    status, body, _ = await post(verifier.url, PATHS["verify"], ask)
    assert status == 200, body
    assert [r["method"] for r in body["payload"]["results"]] == ["teacher_forced"]
    assert "generate" not in swarm.engines[0].calls
    # the coordinator's own `always` is honoured: it alone knows the copy flags
    ask = verify_request(coordinator.ctx.account, round_, claim, reexecute="always")
    status, body, _ = await post(verifier.url, PATHS["verify"], ask)
    assert status == 200, body
    assert [r["method"] for r in body["payload"]["results"]] == ["teacher_forced", "reexecution"]
    assert "generate" in swarm.engines[0].calls


async def test_rounds_still_run_with_every_check_on(swarm) -> None:
    status, body = await swarm.ask("Where do rivers run?")
    assert status == 200, body
    assert body["swarm"]["decided_by"] == "judges"


async def test_an_announcement_addressed_to_one_node_is_no_round(swarm) -> None:
    member, target = swarm.nodes[1].ctx.account, swarm.nodes[0]
    pool = [member.address, target.ctx.address]
    one = announce(member, pool, draw_size=1)
    while one["payload"]["participants"] != [target.ctx.address]:  # a nonce that draws it
        one = announce(member, pool, draw_size=1)
    status, body, _ = await post(target.url, PATHS["answer"], one)
    assert (status, body["error"]["code"]) == (400, "not_a_round")
    # a pool without its announcer is no coordinator's
    theirs = announce(member, [target.ctx.address, swarm.nodes[2].ctx.address])
    status, body, _ = await post(target.url, PATHS["answer"], theirs)
    assert (status, body["error"]["code"]) == (400, "not_a_round")
    assert swarm.engines[0].calls == []


async def test_peer_messages_of_no_round_are_refused_not_a_server_error(swarm) -> None:
    """Found by benchmarks/fuzz.py: an announcement, judge or verify request signed with
    a null or non-string round id was a 500 (the round id was read as a string)."""
    from reputation.envelope import sign_envelope

    member, target = swarm.nodes[1].ctx.account, swarm.nodes[0]
    genuine = announce(member, [member.address, target.ctx.address])
    for path, kind in (("answer", "announce"), ("judge", "judge_request")):
        for round_id in (None, 7, ["0x1"]):
            signed = sign_envelope(member, kind, None, genuine["payload"])
            message = {**signed, "round_id": round_id}  # null: the signed message itself
            status, body, _ = await post(target.url, PATHS[path], message)
            assert 400 <= status < 500, (path, round_id, status, body)
    assert swarm.engines[0].calls == []
