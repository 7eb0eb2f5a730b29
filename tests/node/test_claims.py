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
