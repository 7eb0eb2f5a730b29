from verification.index import MIN_SHINGLES, CopyIndex, IndexedAnswer
from verification.signatures import shingles, signature

LONG = (
    "Regular exercise strengthens the heart, improves mood, helps control weight and "
    "lowers the risk of many chronic diseases over a lifetime."
)
OTHER = (
    "Paris is the capital of France and is famous for the Eiffel Tower, its museums and "
    "the river Seine that runs through the middle of the city."
)


def item(key: str, text: str, node: str, round_id: str, prompt: str, greedy: bool = False):
    return IndexedAnswer(key, node, round_id, prompt, greedy, len(shingles(text)), signature(text))


def kinds(index: CopyIndex, new: IndexedAnswer) -> list[str]:
    return [kind for _, _, kind in index.conflicts(new)]


def test_a_copy_of_another_nodes_answer_is_flagged() -> None:
    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p"))
    assert kinds(index, item("c1", LONG + " Indeed.", "C", "r2", "p")) == ["copy"]


def test_own_answer_to_the_same_prompt_and_other_texts_pass() -> None:
    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p"))
    assert kinds(index, item("a2", LONG, "A", "r2", "p")) == []
    assert kinds(index, item("b2", OTHER, "B", "r2", "p")) == []


def test_identical_greedy_answers_to_one_prompt_are_expected() -> None:
    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p", greedy=True))
    assert kinds(index, item("b2", LONG, "B", "r2", "p", greedy=True)) == []
    assert kinds(index, item("b3", LONG, "B", "r3", "p", greedy=False)) == ["copy"]


def test_an_answer_to_another_prompt_is_a_replay_even_from_the_same_node() -> None:
    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p1", greedy=True))
    assert kinds(index, item("a2", LONG, "A", "r2", "p2", greedy=True)) == ["replay"]


def test_within_one_round_and_short_answers_are_not_conflicts() -> None:
    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p"))
    index.add(item("s1", "Yes, it is.", "A", "r1", "q"))
    assert len(shingles("Yes, it is.")) < MIN_SHINGLES
    assert kinds(index, item("b1", LONG, "B", "r1", "p")) == []
    assert kinds(index, item("b2", "Yes, it is.", "B", "r2", "p")) == []


def test_capacity_evicts_the_oldest_and_rebuild_equals_adding() -> None:
    items = [item(f"k{i}", f"{OTHER} Number {i} {i} {i}.", "A", f"r{i}", "p") for i in range(5)]
    small = CopyIndex(capacity=3)
    for it in items:
        small.add(it)
    assert len(small) == 3
    rebuilt = CopyIndex(capacity=3)
    assert rebuilt.rebuild(items) == 3
    probe = item("new", f"{OTHER} Number 4 4 4.", "B", "r9", "p")
    assert {a.key for a, _ in small.near(probe.signature)} == {
        a.key for a, _ in rebuilt.near(probe.signature)
    }
    assert "k0" not in {a.key for a, _ in small.near(items[0].signature)}


async def test_the_copy_verifier_reports_what_was_copied() -> None:
    from verification.base import Claim
    from verification.copies import CopyVerifier
    from verification.signatures import encode_signature

    def claim(key: str, node: str, round_id: str, text: str, sig: str | None = None) -> Claim:
        return Claim(
            key,
            node,
            round_id,
            "p",
            [],
            text,
            [],
            "m",
            {"temperature": 0.7},
            sig or encode_signature(signature(text)),
        )

    index = CopyIndex()
    index.add(item("a1", LONG, "A", "r1", "p"))
    result = await CopyVerifier(index).verify(claim("c1", "C", "r2", LONG))
    assert not result.passed and result.score > 0.9
    assert result.evidence == {
        "kind": "copy",
        "of": "a1",
        "of_node": "A",
        "of_round": "r1",
        "conflicts": 1,
    }
    assert (await CopyVerifier(index).verify(claim("b1", "B", "r2", OTHER))).passed
    forged = await CopyVerifier(index).verify(
        claim("c2", "C", "r3", OTHER, encode_signature(signature(LONG)))
    )
    assert not forged.passed and "not the signature" in forged.evidence["reason"]
