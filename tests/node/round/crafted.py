"""Signed peer messages made by hand, for the participant's refusals.

A test signs what a member (or a stranger) could send: an announcement whose round
id derives from its signer and whose participants are the seeded draw, a judge
request, an answer and a verify request of such a round. Real keys and signatures;
the receiving nodes are a scripted swarm's.
"""

import os
from typing import Any

import aiohttp

from reputation.draws import draw_participants, round_id_for, text_digest
from reputation.envelope import digest, sign_envelope
from tests.scripted import EOS, MODEL_ID, encode
from verification.signatures import encode_signature, signature

__all__ = ["announce", "answer_to", "judge_request", "post", "verify_request"]


async def post(url: str, path: str, message: Any) -> tuple[int, dict[str, Any], Any]:
    """(status, JSON body, headers) of a POST on loopback."""
    async with aiohttp.ClientSession() as http, http.post(url + path, json=message) as r:
        return r.status, await r.json(), r.headers


def announce(
    signer: Any,
    pool: list[str],
    prompt: str = "Where do rivers run?",
    max_tokens: int = 256,
    draw_size: int = 0,
) -> dict[str, Any]:
    """A genuine announcement by `signer` of a new round over `pool` (`draw_size` drawn;
    0: all)."""
    draw_size = draw_size or len(pool)
    chat = [{"role": "user", "content": prompt}]
    nonce = os.urandom(16).hex()
    round_id = round_id_for(chat, max_tokens, signer.address, nonce)
    weights = dict.fromkeys(pool, 1.0)
    payload = {
        "messages": chat,
        "max_tokens": max_tokens,
        "participants": draw_participants(round_id, pool, draw_size, weights),
        "prompt_hash": digest(chat),
        "nonce": nonce,
        "model": MODEL_ID,
        "weights": weights,
        "draw_size": draw_size,
    }
    return sign_envelope(signer, "announce", round_id, payload)


def judge_request(
    signer: Any,
    round_id: str,
    judge: str,
    pairs: list[tuple[str, str]],
    chat: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    payload = {
        "judge": judge,
        "messages": chat or [{"role": "user", "content": "Where do rivers run?"}],
        "tasks": [
            {
                "task": i,
                "first": a,
                "second": b,
                "first_digest": text_digest(a),
                "second_digest": text_digest(b),
            }
            for i, (a, b) in enumerate(pairs)
        ],
    }
    return sign_envelope(signer, "judge_request", round_id, payload)


def answer_to(signer: Any, announcement: dict[str, Any], text: str) -> dict[str, Any]:
    """`signer`'s signed answer `text` to `announcement`, sampled at temperature 0.7."""
    payload = {
        "text": text,
        "token_ids": [*encode(text), EOS],
        "model": MODEL_ID,
        "sampling": {
            "temperature": 0.7,
            "top_p": 0.95,
            "seed": 1,
            "max_tokens": announcement["payload"]["max_tokens"],
        },
        "prompt_hash": announcement["payload"]["prompt_hash"],
        "finish_reason": "stop",
        "announce": digest(announcement),
        "signature": encode_signature(signature(text)),
    }
    return sign_envelope(signer, "answer", announcement["round_id"], payload)


def verify_request(
    signer: Any,
    announcement: dict[str, Any],
    answer: dict[str, Any],
    reexecute: str = "decisive",
) -> dict[str, Any]:
    payload = {
        "subject": digest(answer),
        "answer": answer,
        "announce": announcement,
        "methods": ["teacher_forced", "reexecution"],
        "reexecute": reexecute,
    }
    return sign_envelope(signer, "verify_request", announcement["round_id"], payload)
