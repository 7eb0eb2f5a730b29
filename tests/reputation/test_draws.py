"""Seeded draws with the announced weights: anyone re-draws them from the log."""

from collections import Counter

from reputation.draws import draw_participants, draw_verifiers, listed_weights

POOL = ["0xA", "0xB", "0xC", "0xD"]


def test_weights_steer_the_draw_and_an_unlisted_node_weighs_one() -> None:
    assert listed_weights(POOL, {"0xa": 3.0, "0xD": 0.0}) == [3.0, 1.0, 1.0, 0.0]
    counts: Counter[str] = Counter()
    for i in range(400):
        counts.update(draw_participants(f"0x{i:04x}", POOL, 1, {"0xA": 3.0, "0xD": 0.0}))
    assert counts["0xD"] == 0  # weight 0: never drawn
    assert counts["0xA"] > 2 * counts["0xB"] and counts["0xA"] > 2 * counts["0xC"]
    # the same round id, pool and weights give the same draw, in any order of the pool
    again = draw_participants("0x0001", list(reversed(POOL)), 2, {"0xA": 3.0, "0xD": 0.0})
    assert again == draw_participants("0x0001", POOL, 2, {"0xA": 3.0, "0xD": 0.0})
    assert draw_participants("0x0001", POOL, 4) == sorted(POOL)  # no weights: uniform


def test_verifiers_follow_the_same_weights_and_never_include_an_author() -> None:
    for i in range(50):
        drawn = draw_verifiers(f"0x{i:04x}", 0, POOL, {"0xA"}, 2, {"0xB": 0.0})
        assert "0xA" not in drawn and "0xB" not in drawn and len(drawn) == 2
