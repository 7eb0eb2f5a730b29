"""The copy index rebuilt from a real consensus log after a restart."""

from pathlib import Path

from eth_account import Account

from node.claims import load_copy_index
from reputation.envelope import sign_envelope
from reputation.log import ConsensusLog
from verification.signatures import encode_signature, signature

TEXT = (
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into sugar, "
    "releasing the oxygen that animals breathe."
)


def answer(account, round_id: str, text: str, sig: str | None = None) -> dict:
    return sign_envelope(
        account,
        "answer",
        round_id,
        {
            "text": text,
            "token_ids": [1, 2],
            "model": "m",
            "sampling": {"temperature": 0.7, "top_p": 0.95, "seed": 1, "max_tokens": 8},
            "prompt_hash": "0xp",
            "finish_reason": "stop",
            "announce": "0xa",
            "signature": sig if sig is not None else encode_signature(signature(text)),
        },
    )


def test_the_index_is_rebuilt_from_logged_answers(tmp_path: Path) -> None:
    a, b = Account.create(), Account.create()
    log = ConsensusLog(tmp_path / "log.db")
    log.append(answer(a, "0x01", TEXT))
    log.append(answer(b, "0x02", "Something else entirely, about trains and their timetables."))
    log.append(answer(b, "0x03", TEXT, sig="zz"))  # a refused answer is logged too
    log.append(sign_envelope(a, "answer", "0x04", {"text": "no signature at all"}))
    log.close()

    reopened = ConsensusLog(tmp_path / "log.db")
    index = load_copy_index(reopened, capacity=100)
    reopened.close()
    assert len(index) == 2
    (hit,) = index.near(signature(TEXT + " Indeed."))
    assert hit[0].node == a.address and hit[0].round_id == "0x01"
    assert len(load_copy_index(ConsensusLog(tmp_path / "log.db"), capacity=1)) == 1


def test_a_text_longer_than_its_token_ids_can_decode_to_is_an_impossible_claim() -> None:
    """An oversized answer (1 MB of text behind two token ids) would cost every node that
    hashes or checks it; no honest node can make it, so it never enters a round and a
    verifier refuses it before any work."""
    from node.claims import MAX_CHARS_PER_TOKEN, claim_defect
    from reputation.messages import AnswerPayload, payload_of

    account = Account.create()
    huge = payload_of(AnswerPayload, answer(account, "0x01", "x" * 1_000_000))
    assert claim_defect(huge, "m", 100, 8) == (
        "text_too_long",
        f"a text of 1000000 characters from 2 token ids (at most {MAX_CHARS_PER_TOKEN} "
        "characters a token)",
    )
    assert (
        claim_defect(payload_of(AnswerPayload, answer(account, "0x01", TEXT)), "m", 100, 8) is None
    )
