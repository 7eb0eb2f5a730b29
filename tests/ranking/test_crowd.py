import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import InvalidComparisons, bt_fit_pairwise
from ranking.crowd import Verdicts, crowd_bt_fit, reliability_prior


def _planted(n_items: int, judges_eta: list[float], per_judge: int, seed: int):
    rng = np.random.default_rng(seed)
    truth = np.linspace(-1.5, 1.5, n_items)
    cols: list[list] = [[], [], [], [], []]
    for u, eta in enumerate(judges_eta):
        i = rng.integers(0, n_items, per_judge)
        j = (i + rng.integers(1, n_items, per_judge)) % n_items
        true_first = rng.random(per_judge) < 1 / (1 + np.exp(truth[j] - truth[i]))
        honest = rng.random(per_judge) < eta
        y = np.where(honest, true_first, ~true_first).astype(float)
        values = (np.zeros(per_judge), i, j, y, np.full(per_judge, u))
        for col, vals in zip(cols, values, strict=True):
            col.extend(vals)
    return truth, Verdicts.of(*cols)


def test_reliably_wrong_judges_are_found_and_read_in_reverse() -> None:
    etas = [0.9, 0.9, 0.85, 0.1, 0.15]  # two judges reverse most verdicts
    truth, v = _planted(10, etas, 1500, seed=1)
    a, b = reliability_prior(np.zeros(5), np.zeros(5))  # no reputation: data alone
    fit = crowd_bt_fit(v, 1, 10, a, b)
    np.testing.assert_allclose(fit.reliability, etas, atol=0.06)
    assert np.corrcoef(fit.scores[0], truth)[0, 1] > 0.98
    plain = bt_fit_pairwise(10, v.first, v.second, v.outcome)
    assert np.corrcoef(plain.scores, truth)[0, 1] < np.corrcoef(fit.scores[0], truth)[0, 1]


def test_a_colluding_clique_loses_weight() -> None:
    # Three honest judges; a clique of four always puts item 0 (the weakest) first.
    _, honest = _planted(6, [0.9, 0.9, 0.9], 200, seed=2)
    rng = np.random.default_rng(3)
    other = rng.integers(1, 6, 400)
    judge = 3 + rng.integers(0, 4, 400)
    cols = [
        np.concatenate([honest.problem, np.zeros(800, np.intp)]),
        np.concatenate([honest.first, np.zeros(400, np.intp), other]),
        np.concatenate([honest.second, other, np.zeros(400, np.intp)]),
        np.concatenate([honest.outcome, np.ones(400), np.zeros(400)]),
        np.concatenate([honest.judge, judge, judge]),
    ]
    v = Verdicts.of(*cols)
    plain = bt_fit_pairwise(6, v.first, v.second, v.outcome)
    assert plain.scores.argmax() == 0  # the clique wins an unweighted fit
    # Reputation from calibration: the clique members had disagreed 8 times in 10.
    a, b = reliability_prior([18, 18, 18, 2, 2, 2, 2], [2, 2, 2, 8, 8, 8, 8])
    fit = crowd_bt_fit(v, 1, 6, a, b)
    assert fit.scores[0].argmax() == 5 and fit.scores[0].argmin() == 0
    assert fit.reliability[3:].max() < 0.5 < fit.reliability[:3].min()


def test_certain_judges_reduce_to_plain_bradley_terry() -> None:
    _, v = _planted(5, [0.99], 300, seed=4)
    a, b = np.array([1e9]), np.array([1.0])  # η pinned at 1: every verdict taken as given
    fit = crowd_bt_fit(v, 1, 5, a, b, prior=0.1)
    plain = bt_fit_pairwise(5, v.first, v.second, v.outcome, prior=0.1)
    # η is capped at 1 − 10⁻⁴ (its logit must stay finite), hence the tolerance.
    np.testing.assert_allclose(fit.scores[0], plain.scores, atol=2e-3)
    np.testing.assert_allclose(fit.stderr[0], plain.stderr, atol=2e-3)


verdict_rows = (
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 3),
            st.sampled_from([0.0, 0.5, 1.0]),
            st.integers(0, 2),
        ),
        min_size=1,
        max_size=30,
    )
    .map(lambda rows: [r for r in rows if r[0] != r[1]])
    .filter(bool)
)


@settings(max_examples=40, deadline=None)
@given(verdict_rows, st.randoms(use_true_random=False), st.permutations(range(4)))
def test_invariant_to_verdict_order_and_item_labels(rows: list, rnd, perm: list) -> None:
    i, j, y, u = (np.array(c) for c in zip(*rows, strict=True))
    a, b = reliability_prior([5, 1, 0], [1, 1, 3])
    zero = np.zeros(i.size, np.intp)
    fit = crowd_bt_fit(Verdicts.of(zero, i, j, y, u), 1, 4, a, b)
    order = list(range(i.size))
    rnd.shuffle(order)
    shuffled = crowd_bt_fit(Verdicts.of(zero, i[order], j[order], y[order], u[order]), 1, 4, a, b)
    p = np.array(perm)
    relabelled = crowd_bt_fit(Verdicts.of(zero, p[i], p[j], y, u), 1, 4, a, b)
    np.testing.assert_allclose(shuffled.scores, fit.scores, atol=1e-4)
    np.testing.assert_allclose(relabelled.scores[0][p], fit.scores[0], atol=1e-4)
    np.testing.assert_allclose(shuffled.reliability, fit.reliability, atol=1e-4)
    assert abs(fit.scores.sum()) < 1e-6  # centred: a common shift is not identified


@pytest.mark.parametrize(
    ("alpha", "beta", "message"),
    [([0.5], [1.0], "α ≥ 1"), ([2.0, 2.0], [1.0], "α ≥ 1")],
)
def test_bad_priors_are_refused(alpha: list, beta: list, message: str) -> None:
    v = Verdicts.of([0], [0], [1], [1.0], [0])
    with pytest.raises(InvalidComparisons, match=message):
        crowd_bt_fit(v, 1, 2, alpha, beta)


def test_bad_verdicts_are_refused() -> None:
    with pytest.raises(InvalidComparisons, match="itself"):
        Verdicts.of([0], [1], [1], [1.0], [0])
    with pytest.raises(InvalidComparisons, match="same length"):
        Verdicts.of([0, 0], [0], [1], [1.0], [0])
    with pytest.raises(InvalidComparisons, match="judge or problem"):
        crowd_bt_fit(Verdicts.of([0], [0], [1], [1.0], [3]), 1, 2, [2], [1])
