"""Every verification scenario at small scale, with real vLLM servers and SmolLM2.

Claims come from three servers, one at a time: SmolLM2 with only its first 12
layers (a substituted model), SmolLM2 in float32 (another precision), and the
bf16 SmolLM2 that also verifies, through the `openai` backend (the in-process
backend is exercised by rounds in tests/node/test_swarm_vllm.py and by
benchmarks/verification.py, which measures the rates at scale).
"""

from pathlib import Path
from typing import Any

import pytest

from benchmarks.substitutes import remove_layers
from node.inference.base import SamplingSpec
from node.inference.openai_backend import OpenAIBackend
from node.serve.verify import verifiers_for
from reputation.envelope import digest
from tests.conftest import vllm_server_at
from verification.base import Claim
from verification.copies import CopyVerifier, indexed
from verification.index import CopyIndex
from verification.signatures import encode_signature, signature

pytestmark = pytest.mark.engine
PROMPTS = [
    "Explain in three sentences why the sky is blue.",
    "Give three tips for writing a clear email to a colleague.",
    "Describe how a bicycle works to a ten-year-old.",
]
MAX = 40
GREEDY = SamplingSpec(0.0, 1.0, 0, MAX)
PIRATE = {"role": "system", "content": "You are a pirate. Answer in the voice of a pirate."}


def user(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


async def generate_all(
    url: str, conversations: list[list[dict[str, str]]], spec: SamplingSpec
) -> list[dict[str, Any]]:
    backend = await OpenAIBackend.create(url, "smollm2-135m")
    try:
        out = []
        for conv in conversations:
            g = await backend.generate(conv, spec)
            out.append({"text": g.text, "token_ids": g.token_ids, "sampling": spec.as_dict()})
        return out
    finally:
        await backend.close()


@pytest.fixture(scope="module")
async def substitutes(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("substitutes")
    out = {}
    layers = remove_layers(model_dir, home / "layers12", keep=12)
    for name, model, extra in [("layers", layers, ()), ("fp32", model_dir, ("--dtype", "float32"))]:
        with vllm_server_at(model, home / name, *extra) as server:
            out[name] = await generate_all(server.base_url, [user(p) for p in PROMPTS], GREEDY)
    return out


@pytest.fixture(scope="module")
async def world(substitutes: dict, vllm_server) -> dict:
    """The bf16 server's own answers and the verifiers that use it."""
    url = vllm_server.base_url
    convs = [user(p) for p in PROMPTS]
    honest = await generate_all(url, convs, GREEDY)
    sampled = [
        (await generate_all(url, [c], SamplingSpec(0.7, 0.95, 100 + i, MAX)))[0]
        for i, c in enumerate(convs)
    ]
    other_node = [
        (await generate_all(url, [c], SamplingSpec(0.9, 0.95, 500 + i, MAX)))[0]
        for i, c in enumerate(convs)
    ]
    pirate = await generate_all(url, [[PIRATE, *c] for c in convs], GREEDY)
    return {
        "honest": honest,
        "sampled": sampled,
        "other_node": other_node,
        "pirate": pirate,
        **substitutes,
    }


def claim(
    i: int, row: dict[str, Any], node: str = "C", round_id: str = "", prompts: list[str] = PROMPTS
) -> Claim:
    return Claim(
        key=f"{node}:{round_id}:{i}:{digest(row['text'])}",
        node=node,
        round_id=round_id or f"round-{i}",
        prompt_hash=digest(user(prompts[i])),
        messages=user(prompts[i]),
        text=row["text"],
        token_ids=row["token_ids"],
        model="smollm2-135m",
        sampling=row["sampling"],
        signature=encode_signature(signature(row["text"])),
    )


@pytest.fixture
async def verifiers(vllm_server):
    backend = await OpenAIBackend.create(vllm_server.base_url, "smollm2-135m")

    found = verifiers_for(backend)  # the node's own verifiers, on the openai backend
    yield found["teacher_forced"], found["reexecution"]
    await backend.close()


async def passed(verifier: Any, claims: list[Claim]) -> list[bool]:
    return [(await verifier.verify(c)).passed for c in claims]


async def test_honest_claims_pass(world: dict, verifiers) -> None:
    tf, rex = verifiers
    greedy = [claim(i, r) for i, r in enumerate(world["honest"])]
    sampled = [claim(i, r) for i, r in enumerate(world["sampled"])]
    assert await passed(tf, greedy) == [True] * 3
    assert await passed(tf, sampled) == [True] * 3
    assert await passed(rex, sampled) == [True] * 3  # the declared seed reproduces it
    for c in sampled:  # the server's top log-probabilities reach the sampling check
        evidence = (await tf.verify(c)).evidence
        assert evidence["gap_excess"] <= evidence["gap_limit"]


SHORT = ["Answer in one word: what colour is grass?", "Say hello."]


async def test_answers_that_stop_pass_and_a_hidden_last_token_fails(vllm_server, verifiers) -> None:
    """An answer that ends before max_tokens ends with the end-of-turn token, which
    its text does not show; any other last token must be in the text."""
    tf, rex = verifiers
    convs = [user(p) for p in SHORT]
    rows = await generate_all(vllm_server.base_url, convs, SamplingSpec(0.7, 0.95, 7, MAX))
    assert all(len(r["token_ids"]) < MAX for r in rows)  # both stopped
    honest = [claim(i, r, prompts=SHORT) for i, r in enumerate(rows)]
    assert await passed(tf, honest) == [True] * 2
    assert await passed(rex, honest) == [True] * 2
    hidden = []  # an ordinary token ("\n") in place of the end of turn, left out of the text
    for i, r in enumerate(rows):
        hidden.append(claim(i, dict(r, token_ids=[*r["token_ids"][:-1], 198]), prompts=SHORT))
    assert await passed(tf, hidden) == [False] * 2


async def test_another_precision_passes(world: dict, verifiers) -> None:
    tf, _ = verifiers
    assert await passed(tf, [claim(i, r) for i, r in enumerate(world["fp32"])]) == [True] * 3


async def test_a_substituted_model_fails(world: dict, verifiers) -> None:
    tf, rex = verifiers
    claims = [claim(i, r) for i, r in enumerate(world["layers"])]
    assert await passed(tf, claims) == [False] * 3
    assert await passed(rex, claims) == [False] * 3


OTHER_AUTHOR = [  # answers to PROMPTS written elsewhere (by hand), claimed as SmolLM2's
    "Sunlight is made of many colours. Air molecules scatter short blue waves far more than "
    "long red ones, so blue light reaches our eyes from every direction of the sky.",
    "Put the request in the subject line. Keep each paragraph to one idea. End with the "
    "exact thing you need and the date you need it by.",
    "When you push the pedals, a chain turns the back wheel. The wheels roll, and because "
    "they spin fast the bike stays upright while you steer with the handlebars.",
]


async def test_an_unrelated_text_fails(world: dict, verifiers, vllm_server) -> None:
    tf, _ = verifiers
    backend = await OpenAIBackend.create(vllm_server.base_url, "smollm2-135m")
    try:
        (eos,) = await tokenize(backend, "<|im_end|>")
        claims = []
        for i, text in enumerate(OTHER_AUTHOR):
            ids = [*await tokenize(backend, text), eos]
            claims.append(claim(i, {"text": text, "token_ids": ids, "sampling": GREEDY.as_dict()}))
    finally:
        await backend.close()
    assert await passed(tf, claims) == [False] * 3


async def test_an_altered_system_prompt_fails(world: dict, verifiers) -> None:
    tf, _ = verifiers
    claims = [claim(i, r) for i, r in enumerate(world["pirate"])]
    differ = [c.text != world["honest"][i]["text"] for i, c in enumerate(claims)]
    assert any(differ)
    results = await passed(tf, claims)
    caught = [not ok for ok, d in zip(results, differ, strict=True) if d]
    # Not all: an answer that stays within the near-tie tolerance of what the model says
    # without the system prompt passes. benchmarks/RESULTS.md measures 83% caught.
    assert sum(caught) * 2 > len(caught)


async def test_fabricated_texts_fail(world: dict, verifiers, vllm_server) -> None:
    tf, _ = verifiers
    backend = await OpenAIBackend.create(vllm_server.base_url, "smollm2-135m")
    try:
        claims = []
        for i, row in enumerate(world["honest"]):
            words = row["text"].split(" ")
            changed = " ".join([*words[:5], "banana", *words[6:]])
            stop = row["token_ids"][-1:] if len(row["token_ids"]) < MAX else []
            for text in (
                changed,
                row["text"][: len(row["text"]) // 2],
                row["text"] + " The moon is made of cheese.",
            ):
                ids = await tokenize(backend, text)
                claims.append(claim(i, {**row, "text": text, "token_ids": ids + stop}))
            # Honest token ids with a different text: the ids must decode to the text.
            claims.append(claim(i, {**row, "text": changed}))
        assert await passed(tf, claims) == [False] * len(claims)
    finally:
        await backend.close()


async def tokenize(backend: OpenAIBackend, text: str) -> list[int]:
    data = await backend._post(
        backend._root + "/tokenize", {"prompt": text, "add_special_tokens": False}
    )
    return [int(t) for t in data["tokens"]]


async def test_copies_and_replays_are_caught(world: dict, verifiers) -> None:
    tf, rex = verifiers
    index = CopyIndex()
    for i in range(3):  # earlier rounds: another node's sampled answers, our greedy ones
        index.add(indexed(claim(i, world["other_node"][i], node="A", round_id=f"old-a-{i}")))
        index.add(indexed(claim(i, world["honest"][i], node="B", round_id=f"old-b-{i}")))
    copier = CopyVerifier(index)
    copied = [
        claim(i, {**world["other_node"][i], "sampling": SamplingSpec(0.7, 0.95, 9, MAX).as_dict()})
        for i in range(3)
    ]
    assert await passed(copier, copied) == [False] * 3
    assert await passed(rex, copied) == [False] * 3  # the copier's own seed gives another text
    replayed = [claim(i, world["honest"][(i + 2) % 3], node="B") for i in range(3)]
    assert await passed(copier, replayed) == [False] * 3
    assert await passed(tf, replayed) == [False] * 3
    honest = [claim(i, world["sampled"][i], node="B") for i in range(3)]
    assert await passed(copier, honest) == [True] * 3
