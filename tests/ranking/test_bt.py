import json
from pathlib import Path

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import InvalidComparisons, NotConverged, bt_fit_pairwise, bt_objective
from ranking.bt import bt_fit_batch, win_matrix

CASES = json.loads((Path(__file__).parents[1] / "data" / "bt_cases.json").read_text())


def _hard(data: list[list[int]]) -> tuple[list[int], list[int], list[float]]:
    return [w for w, _ in data], [loser for _, loser in data], [1.0] * len(data)


@pytest.mark.parametrize("case", CASES, ids=[c["desc"] for c in CASES])
def test_known_answers_from_choix(case: dict) -> None:
    first, second, y = _hard(case["winner_loser"])
    fit = bt_fit_pairwise(case["n_items"], first, second, y, prior=2 * case["choix_alpha"])
    np.testing.assert_allclose(fit.scores, case["scores"], atol=1e-6)


def test_matches_live_choix_on_fresh_data() -> None:
    rng = np.random.default_rng(3)
    n, strengths = 30, rng.normal(size=30)
    data = []
    for _ in range(3000):
        i, j = rng.choice(n, 2, replace=False)
        win = rng.random() < 1 / (1 + np.exp(strengths[j] - strengths[i]))
        data.append((int(i), int(j)) if win else (int(j), int(i)))
    expected = choix.opt_pairwise(n, data, alpha=0.005, tol=1e-12)
    fit = bt_fit_pairwise(n, *_hard(data), prior=0.01)
    np.testing.assert_allclose(fit.scores, expected - expected.mean(), atol=1e-5)
    ilsr = choix.ilsr_pairwise(n, data, alpha=0.005, tol=1e-12)
    assert np.corrcoef(fit.scores, ilsr)[0, 1] > 0.999


def test_soft_outcomes_equal_split_hard_ones() -> None:
    # One verdict of 0.75 weighs like 3 wins and 1 loss at a quarter weight each.
    soft = bt_fit_pairwise(2, [0], [1], [0.75], prior=0.1)
    hard = bt_fit_pairwise(
        2, [0, 0, 0, 1], [1, 1, 1, 0], [1, 1, 1, 1], weight=[0.25] * 4, prior=0.1
    )
    np.testing.assert_allclose(soft.scores, hard.scores, atol=1e-9)
    assert soft.scores[0] > 0 > soft.scores[1]


def test_weights_scale_evidence_and_zero_weight_is_no_evidence() -> None:
    base = bt_fit_pairwise(3, [0, 1], [1, 2], [1.0, 1.0], prior=0.1)
    with_ignored = bt_fit_pairwise(
        3, [0, 1, 2], [1, 2, 0], [1.0, 1.0, 1.0], weight=[1, 1, 0], prior=0.1
    )
    np.testing.assert_allclose(base.scores, with_ignored.scores, atol=1e-9)
    heavy = bt_fit_pairwise(3, [0, 1], [1, 2], [1.0, 1.0], weight=[5, 5], prior=0.1)
    assert heavy.scores[0] - heavy.scores[2] > base.scores[0] - base.scores[2]
    assert np.all(heavy.stderr < base.stderr)


def test_ties_give_equal_scores_and_optimum_is_stationary() -> None:
    fit = bt_fit_pairwise(3, [0, 1, 2], [1, 2, 0], [0.5, 0.5, 0.5])
    np.testing.assert_allclose(fit.scores, 0.0, atol=1e-12)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, 5, 50), rng.integers(0, 5, 50)
    keep = i != j
    y = rng.random(keep.sum())
    fit = bt_fit_pairwise(5, i[keep], j[keep], y)
    for k in range(5):  # any small move raises the objective
        for eps in (1e-4, -1e-4):
            moved = fit.scores.copy()
            moved[k] += eps
            assert bt_objective(moved, i[keep], j[keep], y) > bt_objective(
                fit.scores, i[keep], j[keep], y
            )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (dict(n_items=2, first=[0], second=[2], outcome=[1.0]), "out of range"),
        (dict(n_items=2, first=[0], second=[0], outcome=[1.0]), "itself"),
        (dict(n_items=2, first=[0], second=[1], outcome=[1.5]), r"\[0, 1\]"),
        (dict(n_items=2, first=[0], second=[1], outcome=[1.0], weight=[-1]), "weights"),
        (dict(n_items=2, first=[0, 1], second=[1], outcome=[1.0]), "same length"),
        (dict(n_items=2, first=[0], second=[1], outcome=[1.0], prior=0.0), "prior"),
    ],
)
def test_bad_input_is_refused(args: dict, message: str) -> None:
    with pytest.raises(InvalidComparisons, match=message):
        bt_fit_pairwise(**args)


def test_non_convergence_is_an_error() -> None:
    with pytest.raises(NotConverged):
        bt_fit_pairwise(3, [0, 1], [1, 2], [1.0, 1.0], prior=1e-6, max_iter=1)


comparisons = (
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5), st.floats(0, 1), st.floats(0.1, 3)),
        min_size=1,
        max_size=40,
    )
    .map(lambda rows: [r for r in rows if r[0] != r[1]])
    .filter(bool)
)


@settings(max_examples=60, deadline=None)
@given(comparisons, st.randoms(use_true_random=False))
def test_invariant_to_order_and_to_swapping_sides(rows: list, rnd) -> None:
    i, j, y, w = (np.array(c) for c in zip(*rows, strict=True))
    fit = bt_fit_pairwise(6, i, j, y, w)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    shuffled = bt_fit_pairwise(6, i[order], j[order], y[order], w[order])
    swapped = bt_fit_pairwise(6, j, i, 1 - y, w)
    np.testing.assert_allclose(shuffled.scores, fit.scores, atol=1e-7)
    np.testing.assert_allclose(swapped.scores, fit.scores, atol=1e-7)
    assert abs(fit.scores.sum()) < 1e-7  # centred: adding a constant changes nothing


@settings(max_examples=60, deadline=None)
@given(comparisons, st.permutations(range(6)))
def test_relabelling_items_relabels_scores(rows: list, perm: list) -> None:
    i, j, y, w = (np.array(c) for c in zip(*rows, strict=True))
    p = np.array(perm)
    fit = bt_fit_pairwise(6, i, j, y, w)
    relabelled = bt_fit_pairwise(6, p[i], p[j], y, w)
    np.testing.assert_allclose(relabelled.scores[p], fit.scores, atol=1e-7)


def test_planted_strengths_are_recovered() -> None:
    rng = np.random.default_rng(11)
    truth = np.linspace(-2, 2, 8)
    i, j = rng.integers(0, 8, 20000), rng.integers(0, 8, 20000)
    keep = i != j
    i, j = i[keep], j[keep]
    y = (rng.random(i.size) < 1 / (1 + np.exp(truth[j] - truth[i]))).astype(float)
    fit = bt_fit_pairwise(8, i, j, y, prior=1e-3)
    np.testing.assert_allclose(fit.scores, truth - truth.mean(), atol=0.1)
    assert np.all(np.abs(fit.scores - (truth - truth.mean())) < 4 * fit.stderr)


def test_a_batch_fits_each_problem_as_if_alone() -> None:
    rng = np.random.default_rng(5)
    problems = []
    for _ in range(4):
        i, j = rng.integers(0, 4, 30), rng.integers(0, 4, 30)
        keep = i != j
        problems.append((i[keep], j[keep], rng.random(keep.sum())))
    wins = np.stack([win_matrix(4, i, j, y) for i, j, y in problems])
    batch = bt_fit_batch(wins, prior=0.1)
    for b, (i, j, y) in enumerate(problems):
        alone = bt_fit_pairwise(4, i, j, y, prior=0.1)
        np.testing.assert_allclose(batch.scores[b], alone.scores, atol=1e-8)
        np.testing.assert_allclose(batch.stderr[b], alone.stderr, atol=1e-8)


def test_stderr_is_the_inverse_hessian_diagonal() -> None:
    # Two items, w verdicts each way: H = [[c+λ, −c], [−c, c+λ]], c = 2w·¼ at s = 0.
    fit = bt_fit_pairwise(2, [0, 1], [1, 0], [1.0, 1.0], weight=[3, 3], prior=0.5)
    c, lam = 6 * 0.25, 0.5
    expected = np.sqrt(np.diag(np.linalg.inv([[c + lam, -c], [-c, c + lam]])))
    np.testing.assert_allclose(fit.stderr, expected, atol=1e-12)
