"""A real local swarm (`swarm up --nodes 3`, vLLM + SmolLM2 in process) over loopback HTTP."""

import json
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from openai import OpenAI

from node.identity import load_keystore
from node.local import LOCAL_PASSWORD
from reputation import ConsensusLog, digest, sign_envelope, verify_log
from reputation.draws import draw_participants, round_id_for, text_digest
from reputation.result import StoredRound, SwarmReply
from verification.policy import reexecution_decides
from verification.signatures import encode_signature, signature

pytestmark = pytest.mark.engine
POEM = [{"role": "user", "content": "Write a two-line poem about the sea."}]


@pytest.fixture(scope="module")
def client(swarm3) -> OpenAI:
    return OpenAI(base_url=swarm3.url + "/v1", api_key="unused", timeout=300)


@pytest.fixture(scope="module")
def first_round(client: OpenAI):
    return client.chat.completions.create(model="swarm", messages=POEM, max_tokens=32)


def test_models_lists_swarm(client: OpenAI) -> None:
    ids = [m.id for m in client.models.list().data]
    assert "swarm" in ids and "smollm2-135m" in ids


def test_swarm_up_honours_environment_overrides_and_reports_its_dtype(swarm3) -> None:
    info = httpx.get(swarm3.url + "/swarm/v1/info").json()
    assert info["timeouts"]["floor"] == 45.0  # SWARM_ROUND__TIMEOUT_FLOOR, set by the fixture
    assert info["dtype"] in ("bfloat16", "float32")
    assert info["speed"]["seconds_per_token"] > 0 and info["speed"]["seconds_per_char"] > 0


def test_plain_query_returns_the_winner_and_how_it_was_chosen(first_round, swarm3) -> None:
    content = first_round.choices[0].message.content
    swarm = SwarmReply.model_validate(first_round.model_extra["swarm"])
    assert content and swarm.round_id.startswith("0x")
    candidates = swarm.candidates
    assert len(candidates) >= 2, "three nodes at different temperatures should disagree"
    winner = swarm.candidate(swarm.winner.candidate)
    assert winner.digest == text_digest(content) == swarm.winner.digest
    # Three honest nodes: no candidate fails verification, so the best score wins.
    failed = [o for o in swarm.verification if o.status == "failed"]
    assert not failed, f"an honest answer was rejected: {failed}"
    assert winner.score == max(c.score for c in candidates)
    for c in candidates:
        low, high = c.interval
        assert low < c.score < high and c.stderr > 0
    judges = {j.node for j in swarm.judges}
    assert judges and sum(j.verdicts for j in swarm.judges) >= 2 * (len(candidates) - 1)
    for j in swarm.judges:  # reliability estimated in the round; agreement feeds later rounds
        assert 0 < j.reliability < 1
        assert j.agreed + j.disagreed == pytest.approx(j.verdicts)
    assert len({n for c in candidates for n in c.nodes}) == 3
    stored = StoredRound.model_validate(
        httpx.get(f"{swarm3.url}/v1/rounds/{swarm.round_id}").json()
    )
    assert stored.status == "ok" and stored.result.text == content  # type: ignore[union-attr]


def test_streaming_with_the_sdk(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model="swarm", messages=POEM, max_tokens=24, stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = chunks[-1]
    assert final.choices[0].finish_reason in ("stop", "length")
    swarm = SwarmReply.model_validate(final.model_extra["swarm"])
    assert text and swarm.winner.digest == text_digest(text)


def test_streaming_sends_progress_comments(swarm3) -> None:
    body = {"model": "swarm", "messages": POEM, "max_tokens": 16, "stream": True}
    with httpx.stream("POST", f"{swarm3.url}/v1/chat/completions", json=body, timeout=300) as resp:
        lines = [line for line in resp.iter_lines() if line]
    assert resp.headers["content-type"].startswith("text/event-stream")
    comments = [line for line in lines if line.startswith(":")]
    assert any("answering" in c for c in comments) and lines[-1] == "data: [DONE]"


def test_every_node_log_verifies(first_round, swarm3) -> None:
    types_seen = set()
    for db in sorted(Path(swarm3.data_dir).glob("node-*/consensus.db")):
        log = ConsensusLog(db)
        assert verify_log(log) > 0
        types_seen |= {e.type for e in log.entries()}
        log.close()
    assert types_seen >= {
        "announce",
        "answer",
        "judge_request",
        "verdict",
        "result",
        "verify_request",
        "verification",
    }


def test_the_winner_is_verified_by_nodes_that_did_not_write_it(first_round, swarm3) -> None:
    swarm = SwarmReply.model_validate(first_round.model_extra["swarm"])
    assert swarm.winner.verification == "passed"
    outcome = next(o for o in swarm.verification if o.status == "passed")
    winner = swarm.candidate(outcome.candidate)
    assert outcome.candidate == swarm.winner.candidate
    assert outcome.verifiers and all(v.passed for v in outcome.verifiers)
    assert not {v.node for v in outcome.verifiers} & set(winner.nodes)
    # Every local node samples (temperature > 0): its answer is teacher-forced, and
    # re-executed with its declared seed exactly where that can change the vote.
    assert outcome.methods == ["teacher_forced", "reexecution"]
    answers = _round_messages(swarm3.data_dir, swarm.round_id)["answer"]
    (answer,) = [a for a in answers if digest(a) == outcome.answer]
    temperature = answer["payload"]["sampling"]["temperature"]
    assert temperature > 0
    for v in outcome.verifiers:
        results = {r.method: r for r in v.results}
        forced = results["teacher_forced"]
        decides = reexecution_decides(forced.model_dump(), temperature, outcome.copy_flagged)
        assert forced.passed and ("reexecution" in results) == decides
    assert swarm.copy_flags == []


def _round_messages(data_dir: Path, round_id: str) -> dict[str, list[dict]]:
    log = ConsensusLog(Path(data_dir) / "node-0" / "consensus.db")
    try:
        out: dict[str, list[dict]] = {}
        for e in log.entries(round_id):
            out.setdefault(e.type, []).append(json.loads(e.raw))
        return out
    finally:
        log.close()


def test_verify_requests_with_bad_input_get_a_clear_4xx(first_round, swarm3) -> None:
    url = swarm3.url
    round_id = SwarmReply.model_validate(first_round.model_extra["swarm"]).round_id
    logged = _round_messages(swarm3.data_dir, round_id)
    announce, answer = logged["announce"][0], logged["answer"][0]
    keys = {
        load_keystore(Path(swarm3.data_dir) / f"node-{i}" / "key.json", LOCAL_PASSWORD).address: i
        for i in range(3)
    }
    signer = load_keystore(Path(swarm3.data_dir) / "node-2" / "key.json", LOCAL_PASSWORD)
    author = load_keystore(
        Path(swarm3.data_dir) / f"node-{keys[answer['sender']]}" / "key.json", LOCAL_PASSWORD
    )
    before = httpx.get(url + "/swarm/v1/info").json()["log_head"]

    def verify(rid: str, ans: dict, ann: dict | None = None, **extra) -> httpx.Response:
        body = {
            "subject": digest(ans),
            "answer": ans,
            "announce": ann,
            "methods": ["teacher_forced"],
        }
        message = sign_envelope(signer, "verify_request", rid, {**body, **extra})
        return httpx.post(url + "/swarm/v1/verify", json=message, timeout=60)

    unknown = "0x" + "ef" * 32
    _error(verify(unknown, {**answer, "round_id": unknown}), 401, "invalid_signature")
    relabelled = sign_envelope(author, "answer", unknown, answer["payload"])
    _error(verify(unknown, relabelled), 404, "unknown_round")
    other_model = sign_envelope(author, "answer", round_id, {**answer["payload"], "model": "gpt-4"})
    _error(verify(round_id, other_model, announce), 400, "model_mismatch")
    bad_sig = sign_envelope(author, "answer", round_id, {**answer["payload"], "signature": "zz"})
    _error(verify(round_id, bad_sig, announce), 400, "invalid_lsh_signature")
    _error(verify(round_id, answer, announce, methods=["vibes"]), 400)
    _error(verify(round_id, answer, announce, subject="0x00"), 400)
    stranger = sign_envelope(Account.create(), "verify_request", round_id, {"subject": "x"})
    _error(httpx.post(url + "/swarm/v1/verify", json=stranger, timeout=60), 403, "unknown_sender")
    assert httpx.get(url + "/swarm/v1/info").json()["log_head"] == before


def test_a_fabricated_answer_fails_verification_and_an_honest_one_passes(
    first_round, swarm3
) -> None:
    url = swarm3.url
    round_id = SwarmReply.model_validate(first_round.model_extra["swarm"]).round_id
    logged = _round_messages(swarm3.data_dir, round_id)
    announce = logged["announce"][0]
    signer = load_keystore(Path(swarm3.data_dir) / "node-1" / "key.json", LOCAL_PASSWORD)
    results = {}
    for answer in logged["answer"]:
        author = next(
            load_keystore(p, LOCAL_PASSWORD)
            for p in Path(swarm3.data_dir).glob("node-*/key.json")
            if load_keystore(p, LOCAL_PASSWORD).address == answer["sender"]
        )
        text = answer["payload"]["text"] + " Also, the moon is made of cheese."
        forged = sign_envelope(
            author,
            "answer",
            round_id,
            {
                **answer["payload"],
                "text": text,
                "signature": encode_signature(signature(text)),
            },
        )
        for name, ans in (("honest", answer), ("forged", forged)):
            body = {
                "subject": digest(ans),
                "answer": ans,
                "announce": announce,
                "methods": ["teacher_forced"],
            }
            message = sign_envelope(signer, "verify_request", round_id, body)
            resp = httpx.post(url + "/swarm/v1/verify", json=message, timeout=120)
            assert resp.status_code == 200, resp.text
            results.setdefault(name, []).append(resp.json()["payload"]["results"][0])
    assert all(r["passed"] for r in results["honest"])
    assert not any(r["passed"] for r in results["forged"])
    assert all(r["evidence"]["reason"].startswith("text differs") for r in results["forged"])


def _error(resp: httpx.Response, status: int, code: str | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and {"message", "type", "code"} <= set(body["error"])
    assert "Traceback" not in resp.text
    if code:
        assert body["error"]["code"] == code


def _rounds_total(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("swarm_rounds_total")
    )


def test_bad_input_is_refused_before_any_work(swarm3, first_round) -> None:
    url = swarm3.url
    before = (_rounds_total(url), httpx.get(url + "/swarm/v1/info").json()["log_head"])

    def post(body, **kw):
        return httpx.post(
            url + "/v1/chat/completions",
            timeout=30,
            **({"json": body} if body is not None else {}),
            **kw,
        )

    _error(post(None, content=b"{not json", headers={"content-type": "application/json"}), 400)
    _error(post({"model": "swarm"}), 400)
    _error(post({"model": "gpt-4", "messages": POEM}), 404, "model_not_found")
    _error(post({"model": "swarm", "messages": "hi"}), 400)
    _error(post({"model": "swarm", "messages": POEM, "max_tokens": "10"}), 400)
    _error(post({"model": "swarm", "messages": POEM, "stream": "yes"}), 400)
    _error(post({"model": "swarm", "messages": [{"role": "robot", "content": "x"}]}), 400)
    _error(post({"model": "swarm", "messages": [{"role": "user", "content": 5}]}), 400)
    _error(post({"model": "swarm", "messages": POEM, "n": 2}), 400)
    huge = [{"role": "user", "content": "x" * 20_000}]
    _error(post({"model": "swarm", "messages": huge}), 400, "context_length_exceeded")
    _error(
        post({"model": "swarm", "messages": huge, "stream": True}), 400, "context_length_exceeded"
    )
    _error(post(None, content=b"x" * 1_100_000, headers={"content-type": "application/json"}), 413)
    _error(httpx.get(url + "/v1/chat/completions"), 405)
    _error(httpx.get(url + "/nope"), 404)
    _error(httpx.get(url + "/v1/rounds/0x1234"), 404)
    _error(httpx.post(url + "/swarm/v1/answer", json=[1, 2]), 400)
    after = (_rounds_total(url), httpx.get(url + "/swarm/v1/info").json()["log_head"])
    assert after == before


def test_peer_messages_are_checked(swarm3) -> None:
    url = swarm3.url
    member = load_keystore(Path(swarm3.data_dir) / "node-1" / "key.json", LOCAL_PASSWORD)
    info = httpx.get(url + "/swarm/v1/info").json()
    messages = [{"role": "user", "content": "Say hi."}]
    round_id = round_id_for(messages, 4, member.address, "00")
    weights = {info["node"]: 1.0, member.address: 1.0}  # the pool holds its coordinator
    payload = {
        "messages": messages,
        "max_tokens": 4,
        "participants": draw_participants(round_id, list(weights), 2, weights),
        "prompt_hash": digest(messages),
        "nonce": "00",
        "model": "smollm2-135m",
        "weights": weights,
        "draw_size": 2,
    }
    answer = lambda m: httpx.post(url + "/swarm/v1/answer", json=m, timeout=60)  # noqa: E731

    stranger = sign_envelope(Account.create(), "announce", round_id, payload)  # unregistered
    _error(answer(stranger), 403, "unknown_sender")
    stale = sign_envelope(member, "announce", round_id, payload, timestamp=time.time() - 3600)
    _error(answer(stale), 401, "stale_message")
    other_round = round_id_for(messages, 4, member.address, "01")
    drawn = draw_participants(other_round, list(weights), 2, weights)
    other_model = {**payload, "model": "gpt-4", "nonce": "01", "participants": drawn}
    _error(
        answer(sign_envelope(member, "announce", other_round, other_model)), 400, "model_mismatch"
    )
    good = sign_envelope(member, "announce", round_id, payload)
    _error(answer({**good, "payload": {**payload, "max_tokens": 5}}), 401, "invalid_signature")
    ok = answer(good)
    assert ok.status_code == 200 and ok.json()["type"] == "answer"
    assert ok.json()["sender"] == info["node"]
    _error(answer(good), 409, "replayed_message")
    other = sign_envelope(member, "announce", round_id, {**payload, "topic": "other"})
    _error(answer(other), 409, "equivocation")
    assert "swarm_messages_rejected_total" in httpx.get(url + "/metrics").text
    assert json.loads(ok.text)["payload"]["token_ids"]
