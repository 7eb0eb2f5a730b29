"""Every branch of a round, in real rounds without the LLM engine.

Real keys, signatures, HTTP on loopback and consensus logs; the engine is the
scripted stand-in of `tests.scripted`, which returns given texts, token ids and
verdict probabilities. Each test runs in about a second.
"""

from typing import Any

from node.serve import PATHS
from reputation.draws import draw_participants, round_id_for
from reputation.envelope import digest, sign_envelope
from reputation.log import ConsensusLog
from reputation.result import FailedRound, SwarmReply
from tests.scripted import EOS, ScriptedBackend, encode, prefer


def text(tag: str, best: bool = False) -> str:
    """A distinct answer of a dozen words (long enough for its LSH signature to count)."""
    mark = " BEST" if best else ""
    return (
        f"Answer {tag}{mark}: the {tag} river runs past {tag} hills, where {tag} farmers "
        f"grow {tag} wheat and {tag} barley every single year."
    )


def nodes(model, texts: list[str], **kw: Any) -> list[ScriptedBackend]:
    return [ScriptedBackend(model, t, prefers=prefer("BEST"), **kw) for t in texts]


SIGNED = {"answer": "answer", "judge": "verdict", "verify": "verification"}
"""The message type each served path replies with."""


def lying(node: Any, change: Any, path: str = "answer") -> None:
    """Make `node` tamper with its replies on `path` (the fields `change` returns for
    the honest payload) and sign the lie with its own key."""
    honest = node.service.serve[PATHS[path]]

    async def lie(message: Any) -> dict[str, Any]:
        reply = await honest(message)
        payload = {**reply["payload"], **change(reply["payload"])}
        return sign_envelope(node.ctx.account, SIGNED[path], reply["round_id"], payload)

    node.service.serve[PATHS[path]] = lie


def left_out(swarm: SwarmReply | FailedRound, phase: str) -> set[str]:
    return {x.node for x in swarm.left_out if x.phase == phase}


def stored_failure(home: Any, node: int = 0) -> FailedRound:
    log = ConsensusLog(home / f"node-{node}" / "consensus.db")
    try:
        (announce,) = [e for e in log.entries() if e.type == "announce"]
        stored = log.round(str(announce.round_id))
    finally:
        log.close()
    assert stored is not None and isinstance(stored.result, FailedRound)
    return stored.result


async def test_a_round_end_to_end_with_batched_judging(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a"), text("b", best=True), text("c")])
    async with scripted_swarm(backends) as s:
        before = [len(b.judge_batches) for b in backends]
        status, body = await s.ask("Where do rivers run?")
        types = s.log_types(0, body["swarm"]["round_id"])
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert body["choices"][0]["message"]["content"] == text("b", best=True)
    assert swarm.winner.node == s.address(1) and swarm.winner.verification == "passed"
    assert swarm.decided_by == "judges" and len(swarm.candidates) == 3
    for judge in swarm.judges:  # each judge's tasks reached its engine in one batch
        calls = backends[s.index(judge.node)].judge_batches[before[s.index(judge.node)] :]
        assert calls == [judge.verdicts]
    assert {"answer_s", "judge_s", "verify_s", "total_s"} <= set(swarm.timings)
    assert {"announce", "answer", "judge_request", "verdict", "result"} <= set(types)


async def test_answers_lying_about_their_model_or_tokens_never_enter_the_round(
    scripted_swarm, model
) -> None:
    texts = [text("a"), text("b"), *(text(t, best=True) for t in "cdef")]
    backends = nodes(model, texts)
    async with scripted_swarm(backends) as s:
        lying(s.nodes[2], lambda p: {"model": "gpt-4"})
        lying(s.nodes[3], lambda p: {"token_ids": [*encode(p["text"]), 10**9, EOS]})
        # More ids than the answer's max_tokens (e.g. past every verifier's context) ...
        lying(s.nodes[4], lambda p: {"token_ids": [*encode(p["text"]) * 20, EOS]})
        # ... or a max_tokens above what the round allows.
        lying(s.nodes[5], lambda p: {"sampling": {**p["sampling"], "max_tokens": 10**6}})
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    reasons = {x.node: x.reason for x in swarm.left_out if x.phase == "answer"}
    assert "model_mismatch" in reasons[s.address(2)]
    assert "invalid_token_ids" in reasons[s.address(3)]
    assert "too_many_tokens" in reasons[s.address(4)]
    assert "too_many_tokens" in reasons[s.address(5)]
    authors = {n for c in swarm.candidates for n in c.nodes}
    assert authors == {s.address(0), s.address(1)}
    assert swarm.winner.verification == "passed"


async def test_nodes_serving_another_model_neither_answer_nor_verify(scripted_swarm, model) -> None:
    backends = [
        *nodes(model, [text("a", best=True), text("b"), text("c")]),
        *nodes(model, [text("d"), text("e")], model_id="other-lm"),
    ]
    async with scripted_swarm(backends) as s:
        status, body = await s.ask("Where do rivers run?")
        others = {s.address(3), s.address(4)}
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert not others & {n for c in swarm.candidates for n in c.nodes}
    (outcome,) = swarm.verification
    assert outcome.status == "passed" and not others & {v.node for v in outcome.verifiers}
    assert len(outcome.verifiers) == 2  # the two other nodes of the round's model


async def test_a_verifier_refusing_the_claim_votes_against_it_signed(scripted_swarm, model) -> None:
    # Nodes 1 and 2 serve the round's model with a smaller vocabulary: they refuse every
    # claim (its end-of-sequence id is outside theirs), each in a signed refusal. Every
    # candidate then has as many votes against as for (a tie fails) or more.
    backends = nodes(model, [text("a", best=True), text("b"), text("c")])
    for refusing in backends[1:]:
        refusing.vocab_size = 200
    async with scripted_swarm(backends) as s:
        refusers = {s.address(1), s.address(2)}
        status, body = await s.ask("Where do rivers run?")
        (announce,) = [m for m in _messages_all(s, 0) if m["type"] == "announce"]
        logged = _messages(s, 0, announce["round_id"])
    assert status == 503 and body["error"]["code"] == "verification_failed", body
    failure = stored_failure(s.home)
    assert left_out(failure, "verify") == set()  # they voted; nobody abstained
    refusals = [
        m
        for m in logged
        if m["type"] == "verification" and m["payload"]["results"][0]["method"] == "refusal"
    ]
    assert {m["sender"] for m in refusals} == refusers
    assert {m["payload"]["results"][0]["evidence"]["code"] for m in refusals} == {
        "invalid_token_ids"
    }


async def test_an_unsigned_refusal_is_an_absence_not_a_vote(scripted_swarm, model) -> None:
    from node.errors import ClaimRejected

    backends = nodes(model, [text("a", best=True), text("b"), text("c")])
    async with scripted_swarm(backends, verification={"verifiers": 2}) as s:

        async def refuse(message: Any) -> dict[str, Any]:
            raise ClaimRejected("says so, without signing", code="model_mismatch")

        s.nodes[1].service.serve[PATHS["verify"]] = refuse
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    (outcome,) = swarm.verification
    assert left_out(swarm, "verify") == {s.address(1)}
    assert [v.node for v in outcome.verifiers] == [s.address(2)] and outcome.status == "passed"


async def test_a_verifier_signing_garbage_is_left_out_not_a_crash(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a", best=True), text("b"), text("c")])
    async with scripted_swarm(backends, verification={"verifiers": 2}) as s:
        garbage = [
            {
                "method": "teacher_forced",
                "passed": True,
                "score": 0.0,
                "evidence": {"gap_excess": "x", "gap_limit": 1.0},
            },
            {"method": "reexecution", "passed": False, "score": 0.0, "evidence": {}},
        ]
        lying(s.nodes[1], lambda p: {"results": garbage}, "verify")
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert left_out(swarm, "verify") == {s.address(1)}
    assert swarm.winner.verification == "passed"


async def test_a_judge_repeating_one_task_and_dropping_another_is_left_out(
    scripted_swarm, model
) -> None:
    backends = nodes(model, [text(t, best=t == "a") for t in "abcde"])
    async with scripted_swarm(backends, round={"pairs_per_candidate": 4}) as s:
        lying(s.nodes[4], lambda p: {"verdicts": [p["verdicts"][0], *p["verdicts"][:-1]]}, "judge")
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert left_out(swarm, "judge") == {s.address(4)}
    assert sum(j.verdicts for j in swarm.judges) == 2 * 10  # re-assigned to the others


def _messages_all(s: Any, node: int) -> list[dict[str, Any]]:
    log = ConsensusLog(s.home / f"node-{node}" / "consensus.db")
    try:
        return [e.message() for e in log.entries()]
    finally:
        log.close()


async def test_every_candidate_failing_verification_fails_the_round(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a"), text("b"), text("c")], honest=False)
    async with scripted_swarm(backends) as s:
        status, body = await s.ask("Where do rivers run?")
    assert status == 503 and body["error"]["code"] == "verification_failed", body
    log = ConsensusLog(s.home / "node-0" / "consensus.db")
    kinds = [e.type for e in log.entries()]
    log.close()
    assert kinds.count("verify_request") == 3 and "result" not in kinds


async def test_a_failed_winner_is_replaced_by_the_next_candidate(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "b") for t in "abcde"])
    backends[1].honest = False  # the judges' favourite is a fabrication
    async with scripted_swarm(backends, verification={"verifiers": 3}) as s:
        status, body = await s.ask("Where do rivers run?")
        types = s.log_types(0, body["swarm"]["round_id"])
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert [o.status for o in swarm.verification] == ["failed", "passed"]
    assert swarm.verification[0].node == s.address(1)
    assert swarm.winner.candidate == swarm.verification[1].candidate
    for outcome in swarm.verification:  # three verifiers, none an author
        authors = set(swarm.candidate(outcome.candidate).nodes)
        assert len(outcome.verifiers) == 3 and not authors & {v.node for v in outcome.verifiers}
    assert types.count("verify_request") == 2 and types.count("verification") == 6


async def test_a_verifier_that_times_out_abstains_and_the_rest_decide(
    scripted_swarm, model
) -> None:
    backends = nodes(model, [text(t, best=t == "a") for t in "abcde"])
    for slow in backends[3:]:
        slow.verify_delay = 1.5
    async with scripted_swarm(backends, verification={"timeout": 0.5}) as s:
        status, body = await s.ask("Where do rivers run?")
        slow_nodes = {s.address(3), s.address(4)}
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    (outcome,) = swarm.verification
    voters = {v.node for v in outcome.verifiers}
    assert outcome.status == "passed" and swarm.winner.node == s.address(0)
    assert left_out(swarm, "verify") and left_out(swarm, "verify") <= slow_nodes
    assert not voters & slow_nodes and len(voters) + len(left_out(swarm, "verify")) == 3


async def test_with_nobody_to_verify_the_winner_stands_unverified(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a", best=True), text("b"), text("c")], verify_delay=1.5)
    async with scripted_swarm(backends, verification={"timeout": 0.5}) as s:
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert swarm.winner.verification == "unverified" and swarm.winner.node == s.address(0)
    assert swarm.verification[0].verifiers == [] and len(left_out(swarm, "verify")) == 2


async def test_sampled_answers_are_re_executed_and_others_sampled(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "a") for t in "abc"])
    verification = {"verifiers": 1, "sample_rate": 1.0, "reexecute": "always"}
    async with scripted_swarm(backends, verification=verification) as s:
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert sorted(o.candidate for o in swarm.verification) == [0, 1, 2]
    for outcome in swarm.verification:  # every local node samples (temperature > 0)
        assert outcome.methods == ["teacher_forced", "reexecution"]
        assert [r.method for r in outcome.verifiers[0].results] == outcome.methods
        assert outcome.status == "passed"  # the declared seed reproduces each answer


async def test_by_default_re_execution_runs_only_where_it_decides(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "a") for t in "abc"])
    async with scripted_swarm(backends, verification={"verifiers": 2}) as s:
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    (outcome,) = swarm.verification
    assert outcome.status == "passed" and outcome.methods == ["teacher_forced", "reexecution"]
    for vote in outcome.verifiers:  # an honest sample at the argmax: the prefill decides
        assert [r.method for r in vote.results] == ["teacher_forced"]


async def test_a_failed_judge_has_its_tasks_re_assigned(scripted_swarm, model) -> None:
    backends = nodes(model, [text(t, best=t == "a") for t in "abcde"])
    backends[4].fail_judging = True
    async with scripted_swarm(backends, round={"pairs_per_candidate": 4}) as s:
        status, body = await s.ask("Where do rivers run?")
        requests = [
            m for m in _messages(s, 0, body["swarm"]["round_id"]) if m["type"] == "judge_request"
        ]
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    failed = s.address(4)
    assert left_out(swarm, "judge") == {failed}
    assert failed not in {j.node for j in swarm.judges}
    assert {r["payload"]["attempt"] for r in requests} == {0, 1}  # the re-assignment went out
    # Every pair of the complete design was judged, both orders, by someone else.
    assert sum(j.verdicts for j in swarm.judges) == 2 * 10
    assert swarm.winner.node == s.address(0)


def _messages(s: Any, node: int, round_id: str) -> list[dict[str, Any]]:
    log = ConsensusLog(s.home / f"node-{node}" / "consensus.db")
    try:
        return [e.message() for e in log.entries(round_id)]
    finally:
        log.close()


async def test_without_a_neutral_judge_agreement_decides(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a", best=True), text("b"), text("b")])
    async with scripted_swarm(backends) as s:
        status, body = await s.ask("Where do rivers run?")
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    assert swarm.decided_by == "agreement" and swarm.judges == []
    assert set(swarm.candidate(swarm.winner.candidate).nodes) == {s.address(1), s.address(2)}
    assert swarm.winner.verification == "passed"
    (outcome,) = swarm.verification
    assert [v.node for v in outcome.verifiers] == [s.address(0)]


async def test_a_flagged_copy_that_wins_fails_verification(scripted_swarm, model) -> None:
    first, second = "Where do rivers run?", "What grows on the hills?"

    def by_prompt(early: str, late: str) -> Any:
        return lambda chat: early if chat[-1]["content"] == first else late

    original = text("b", best=True)
    backends = [
        ScriptedBackend(model, by_prompt(text("a1"), text("a2")), prefers=prefer("BEST")),
        ScriptedBackend(model, by_prompt(original, text("b2")), prefers=prefer("BEST")),
        # Node 2 copies node 1's earlier answer into the next round, as its own work.
        ScriptedBackend(
            model, by_prompt(text("c1"), original), prefers=prefer("BEST"), honest=False
        ),
    ]
    async with scripted_swarm(backends) as s:
        status, body = await s.ask(first)
        assert status == 200, body
        status, body = await s.ask(second)
    assert status == 200, body
    swarm = SwarmReply.model_validate(body["swarm"])
    (flag,) = swarm.copy_flags
    assert flag.node == s.address(2) and flag.of_node == s.address(1) and flag.kind == "replay"
    copied, winner = swarm.verification
    assert copied.node == s.address(2) and copied.copy_flagged and copied.status == "failed"
    for vote in copied.verifiers:  # the text is the model's, but not from the copier's seed
        results = {r.method: r.passed for r in vote.results}
        assert results == {"teacher_forced": True, "reexecution": False}
    assert winner.status == "passed" and swarm.winner.node != s.address(2)
    assert body["choices"][0]["message"]["content"] != original


async def test_a_second_different_announcement_is_kept_as_evidence(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a"), text("b")])
    async with scripted_swarm(backends) as s:
        coordinator = s.nodes[1].ctx.account
        chat = [{"role": "user", "content": "Say hi."}]
        round_id = round_id_for(chat, 4, coordinator.address, "00")
        weights = {s.address(0): 1.0, s.address(1): 1.0}  # the pool holds its coordinator
        payload = {
            "messages": chat,
            "max_tokens": 4,
            "participants": draw_participants(round_id, list(weights), 2, weights),
            "prompt_hash": digest(chat),
            "nonce": "00",
            "model": backends[0].model_id,
            "weights": weights,
            "draw_size": 2,
        }
        one = sign_envelope(coordinator, "announce", round_id, payload)
        # another announcement of the same round that passes every check but differs
        two = sign_envelope(coordinator, "announce", round_id, {**payload, "topic": "other"})
        answer = s.nodes[0].service.serve[PATHS["answer"]]
        await answer(one)
        status, error = await _post(s, 0, PATHS["answer"], two)
        # Nobody can announce a round in another coordinator's name (to make a
        # participant answer one round twice): the round id binds the announcer.
        impostor = sign_envelope(s.nodes[0].ctx.account, "announce", round_id, payload)
        forged_status, forged = await _post(s, 1, PATHS["answer"], impostor)
    assert forged_status == 400 and "does not derive" in forged["error"]["message"]
    assert status == 409 and error["error"]["code"] == "equivocation"
    log = ConsensusLog(s.home / "node-0" / "consensus.db")
    (kept,) = log.evidence()
    log.close()
    assert kept.kind == "equivocation" and kept.sender == s.address(1)
    assert (kept.first, kept.second) == (one, two)


async def _post(s: Any, node: int, path: str, message: dict[str, Any]) -> tuple[int, Any]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(s.nodes[node].url + path, json=message) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_round_failing_for_lack_of_answers_is_stored(scripted_swarm, model) -> None:
    backends = nodes(model, [text("a"), text("b")])
    async with scripted_swarm(backends) as s:
        down = s.nodes[1]
        await down.stop()  # node 1 goes down (its connections close with it)
        s.swarm.nodes.remove(down)
        status, body = await s.ask("Where do rivers run?")
    assert status == 503 and body["error"]["code"] == "too_few_nodes"
    failure = stored_failure(s.home)
    assert left_out(failure, "answer") == {down.ctx.address}
