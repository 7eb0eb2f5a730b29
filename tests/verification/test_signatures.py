import pytest
from datasketch import MinHash

from verification.signatures import (
    NUM_PERM,
    SignatureError,
    decode_signature,
    encode_signature,
    shingles,
    signature,
    signatures,
    similarity,
)

TEXT = "The quick brown fox jumps over the lazy dog near the quiet river bank today."


def test_bulk_signatures_equal_the_per_shingle_update_loop() -> None:
    texts = [TEXT, "Another answer entirely, with its own words.", "4", ""]
    for text, sig in zip(texts, signatures(texts), strict=True):
        slow = MinHash(num_perm=NUM_PERM)
        for s in shingles(text):
            slow.update(s)
        assert (slow.hashvalues == sig.hashvalues).all()


def test_round_trip_through_hex() -> None:
    sig = signature(TEXT)
    back = decode_signature(encode_signature(sig))
    assert (back.hashvalues == sig.hashvalues).all() and similarity(back, sig) == 1.0


def test_case_spacing_and_punctuation_do_not_change_the_signature() -> None:
    assert similarity(signature(TEXT), signature(TEXT.upper().replace(" ", "  \n"))) == 1.0
    assert similarity(signature(TEXT), signature(TEXT.replace(".", "!"))) == 1.0


def test_similarity_tracks_shared_shingles() -> None:
    changed = TEXT.replace("lazy", "sleepy")
    unrelated = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen."
    near, far = (
        similarity(signature(TEXT), signature(changed)),
        similarity(signature(TEXT), signature(unrelated)),
    )
    assert 0.5 < near < 1.0 and far < 0.1


@pytest.mark.parametrize("data", ["zz", "00" * 10, encode_signature(signature(TEXT))[:-8], ""])
def test_malformed_signatures_are_refused(data: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        decode_signature(data)


def test_a_signature_with_other_parameters_is_refused() -> None:
    other = MinHash(num_perm=64)
    other.update(b"x")
    from datasketch import LeanMinHash

    lean = LeanMinHash(other)
    buf = bytearray(lean.bytesize("<"))
    lean.serialize(buf, "<")
    with pytest.raises(SignatureError, match="permutations"):
        decode_signature(buf.hex())
