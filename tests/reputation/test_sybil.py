"""The Sybil simulation (benchmarks/sybil.py) on a short stream of the LLMBar excerpt:
a colluding identity that paid its stake and calibration loses its draw weight and
costs the swarm little; splitting the same stake over more identities is measured."""

from pathlib import Path

from benchmarks.sybil import ETHER, calibration, load, simulate, split

DATA = Path(__file__).parents[1] / "data" / "llmbar_excerpt.csv"


def test_a_colluding_identity_loses_its_weight() -> None:
    bank, stream = split(load(DATA))
    assert not {id(p) for p in bank} & {id(p) for p in stream}
    calibrated = calibration(bank)
    assert set(calibrated) >= {"GPT-4", "LLaMA2"} and "" in calibrated["GPT-4"]
    none = simulate(stream, calibrated, 0, 0, 300)
    one = simulate(stream, calibrated, 1, ETHER, 300)
    assert one["colluders_below_after"] is not None  # its weight fell below the honest
    assert one["attacker_draw_weight"] < 1 / 7  # less than its share of the stake
    assert one["accuracy"] >= none["accuracy"] - 0.03
    assert none["accuracy"] > 0.7 and none["attacker_win_share"] == 0.0
