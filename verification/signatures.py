"""LSH signatures of answers: datasketch MinHash over token n-gram shingles.

An answer's tokens are the words of its text (lower-cased runs of letters and
digits), not the model's token ids, so a signature means the same thing
whatever tokenizer wrote the text and re-tokenizing a copied text does not
hide it. Shingles are `SHINGLE`-word n-grams; a text shorter than that is one
shingle, and an empty text is the empty shingle. `NUM_PERM` permutations with
seed `SEED` under datasketch's default hashing scheme; every node uses these
constants, so signatures are comparable across the swarm.

In messages a signature is the hex of `LeanMinHash.serialize` in little-endian
byte order. Signatures are built with `MinHash.bulk` (one vectorised pass per
answer) rather than a per-shingle `update` loop.
"""

import re
from collections.abc import Sequence

from datasketch import LeanMinHash, MinHash

from swarm_errors import SwarmError

__all__ = [
    "NUM_PERM",
    "SHINGLE",
    "SignatureError",
    "decode_signature",
    "encode_signature",
    "shingles",
    "signature",
    "signatures",
    "similarity",
]

NUM_PERM = 128
SEED = 1
SHINGLE = 3
_BYTEORDER = "<"
_WORD = re.compile(r"\w+")


class SignatureError(SwarmError, ValueError):
    """A serialized signature that cannot be read or was made with other parameters."""


def shingles(text: str, n: int = SHINGLE) -> list[bytes]:
    """The distinct word n-grams of `text`, UTF-8 encoded."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return [" ".join(words).encode()]
    return list({" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)})


def signatures(texts: Sequence[str]) -> list[LeanMinHash]:
    """Lean MinHash signatures of `texts`, built in bulk."""
    built = MinHash.bulk([shingles(t) for t in texts], num_perm=NUM_PERM, seed=SEED)
    return [LeanMinHash(m) for m in built]


def signature(text: str) -> LeanMinHash:
    return signatures([text])[0]


def encode_signature(sig: LeanMinHash) -> str:
    buf = bytearray(sig.bytesize(_BYTEORDER))
    sig.serialize(buf, _BYTEORDER)
    return buf.hex()


def decode_signature(data: str) -> LeanMinHash:
    """The signature in `data` (hex); `SignatureError` if it is not one of ours."""
    try:
        sig = LeanMinHash.deserialize(bytes.fromhex(data), _BYTEORDER)
    except Exception as exc:  # ValueError from bad hex, struct.error from a short buffer
        raise SignatureError(f"malformed LSH signature: {exc}") from exc
    if len(sig) != NUM_PERM or sig.seed != SEED:
        raise SignatureError(
            f"LSH signature has {len(sig)} permutations and seed {sig.seed}; "
            f"the swarm uses {NUM_PERM} and {SEED}"
        )
    return sig


def similarity(a: LeanMinHash, b: LeanMinHash) -> float:
    """Estimated Jaccard similarity of the two answers' shingle sets."""
    return float(a.jaccard(b))
