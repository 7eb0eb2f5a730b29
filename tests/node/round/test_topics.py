"""A round's topic: the client's `metadata.category`, or the cluster of past prompts
the coordinator infers; it is signed in the announcement, kept in the result and
the log, and the judges' records are kept per topic (real rounds, scripted engine)."""

import json

from node.serve import PATHS
from reputation.draws import draw_participants, round_id_for
from reputation.envelope import digest, sign_envelope
from reputation.epoch import default_epoch, rebuild
from reputation.log import ConsensusLog
from reputation.result import SwarmReply
from reputation.topics import TopicModel
from tests.node.round.test_branches import _post, nodes, text

FAMILIES = [
    [f"What is {a} + {b} in base 9?" for a, b in [(15, 27), (33, 44), (18, 71), (62, 25)]],
    [f"Write a recipe for {d}." for d in ["lentil soup", "apple pie", "fried rice", "bread"]],
]


def announcement(s, round_id: str) -> dict:
    log = ConsensusLog(s.nodes[0].ctx.config.log_path)
    try:
        (entry,) = [e for e in log.entries(round_id) if e.type == "announce"]
        return json.loads(entry.raw)["payload"]
    finally:
        log.close()


async def test_a_client_category_is_signed_logged_and_keys_the_judges_records(
    scripted_swarm, model
) -> None:
    async with scripted_swarm(nodes(model, [text(t, best=t == "a") for t in "abc"])) as s:
        status, body = await s.ask("Where do rivers run?", metadata={"category": "  Geo  Graphy"})
        assert status == 200, body
        reply = SwarmReply.model_validate(body["swarm"])
        assert (reply.topic, reply.topic_source) == ("geo graphy", "client")
        payload = announcement(s, reply.round_id)
        assert (payload["topic"], payload["topic_source"]) == ("geo graphy", "client")
        book = s.nodes[0].ctx.judges
        judged = {j.node for j in reply.judges}
        assert set(book.records("client:geo graphy")) == judged
        stored = await s.get(f"/v1/rounds/{reply.round_id}")
        assert stored["result"]["swarm"]["topic"] == "geo graphy"
        for metadata in ({"category": "x" * 65}, {"category": 3}, "math"):
            status, body = await s.ask("Where do rivers run?", metadata=metadata)
            assert status == 400 and "error" in body, body


async def test_without_a_category_the_node_infers_the_topic(scripted_swarm, model) -> None:
    async with scripted_swarm(nodes(model, [text(t, best=t == "a") for t in "abc"])) as s:
        status, body = await s.ask("What is 52 + 16 in base 9?")
        assert SwarmReply.model_validate(body["swarm"]).topic_source == ""  # no clusters yet
        topics = TopicModel.fit([p for family in FAMILIES for p in family], k=2)
        s.nodes[0].ctx.topics = topics
        status, body = await s.ask("What is 52 + 16 in base 9?")
        assert status == 200, body
        reply = SwarmReply.model_validate(body["swarm"])
        expected = str(int(topics.assign(FAMILIES[0][:1])[0]))
        assert (reply.topic, reply.topic_source) == (expected, "inferred")
        assert announcement(s, reply.round_id)["topic"] == expected


async def test_the_records_are_rebuilt_per_topic_from_the_log(scripted_swarm, model) -> None:
    async with scripted_swarm(nodes(model, [text(t, best=t == "a") for t in "abc"])) as s:
        for prompt in ("Where do rivers run?", "Where do hills rise?"):
            status, _ = await s.ask(prompt, metadata={"category": "geo"})
            assert status == 200
        status, _ = await s.ask("What is 1 + 1 in base 9?")
        live = s.nodes[0].ctx.judges
        log = ConsensusLog(s.nodes[0].ctx.config.log_path)
        try:
            model_, rebuilt = rebuild(log, s.address(0), default_epoch())
        finally:
            log.close()
        assert model_ is None  # 3 prompts in the log, fewer than MIN_PROMPTS: no clusters
        assert rebuilt.records("client:geo") == live.records("client:geo")
        assert rebuilt.records() == live.records()
        log = ConsensusLog(s.nodes[0].ctx.config.log_path)
        try:  # with clusters: the round without a category joins its inferred topic
            model_, rebuilt = rebuild(log, s.address(0), default_epoch(min_prompts=3))
        finally:
            log.close()
        assert model_ is not None and model_.size == 1
        assert rebuilt.records("inferred:0") != rebuilt.records("inferred:1")
        assert rebuilt.records("client:geo") == live.records("client:geo")


async def test_the_announcement_lists_the_draw_weights_and_the_draw_replays(
    scripted_swarm, model
) -> None:
    async with scripted_swarm(nodes(model, [text(t, best=t == "a") for t in "abcd"])) as s:
        heavy = s.address(2)
        s.nodes[0].ctx.peers.set_weights({heavy: 5.0, s.address(3): 0.0})
        status, body = await s.ask("Where do rivers run?")
        assert status == 200, body
        reply = SwarmReply.model_validate(body["swarm"])
        payload = announcement(s, reply.round_id)
        weights = payload["weights"]
        assert weights[heavy] == 5.0 and weights[s.address(3)] == 0.0
        assert weights[s.address(1)] == 1.0  # not in the registry: 1
        k = s.nodes[0].ctx.config.round.max_participants
        redrawn = draw_participants(reply.round_id, list(weights), k, weights)
        assert redrawn == payload["participants"] and s.address(3) not in redrawn
        # a coordinator that hand-picks its participants is refused by them
        chat = [{"role": "user", "content": "Name a river."}]
        nonce = "0a"
        round_id = round_id_for(chat, 8, s.address(1), nonce)
        pool = {s.address(i): 1.0 for i in range(4)}
        honest = draw_participants(round_id, list(pool), 2, pool)
        picked = sorted(set(pool) - set(honest))  # the two the draw left out
        lie = {
            "messages": chat,
            "max_tokens": 8,
            "participants": picked,
            "prompt_hash": digest(chat),
            "nonce": nonce,
            "model": s.nodes[0].ctx.backend.model_id,
            "weights": pool,
            "draw_size": 2,
        }
        message = sign_envelope(s.nodes[1].ctx.account, "announce", round_id, lie)
        target = next(a for a in picked if a != s.address(1))
        status, body = await _post(s, s.index(target), PATHS["answer"], message)
        assert status == 400 and body["error"]["code"] == "wrong_draw", body
