import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking import DesignError, assign_judges, pair_design, weighted_draw


def _connected(n: int, pairs: list[tuple[int, int]]) -> bool:
    seen, todo = {0}, [0]
    while todo:
        u = todo.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == u and y not in seen:
                    seen.add(y)
                    todo.append(y)
    return len(seen) == n


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 8), st.integers(0, 2**32))
def test_pair_design_guarantees(n: int, k: int, seed: int) -> None:
    pairs = pair_design(n, k, seed)
    assert pairs == pair_design(n, k, seed)  # seeded
    assert len(set(pairs)) == len(pairs)
    assert all(0 <= a < b < n for a, b in pairs)
    if n >= 2:
        degree = [sum(c in p for p in pairs) for c in range(n)]
        assert min(degree) >= min(k, n - 1)
        assert _connected(n, pairs)
        # Sparse: far fewer than all pairs once n is large against k.
        if n >= 4 * (k + 1):
            assert len(pairs) <= n * (k + 2) // 2 + n


def test_pair_design_depends_on_the_seed() -> None:
    assert len({tuple(pair_design(10, 2, s)) for s in range(20)}) > 1


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 9), st.integers(1, 4), st.integers(3, 9), st.integers(0, 2**32))
def test_judges_never_judge_their_own_answer_and_see_both_orders(
    n: int, k: int, n_judges: int, seed: int
) -> None:
    judges = [f"j{i}" for i in range(n_judges)]
    authors = [{judges[c % n_judges]} for c in range(n)]
    pairs = pair_design(n, k, seed)
    plan = assign_judges(pairs, authors, judges, seed)
    for a in plan.assignments:
        assert a.judge not in authors[a.first] | authors[a.second]
    ordered = {(a.judge, a.first, a.second) for a in plan.assignments}
    for judge, u, v in ordered:
        assert (judge, v, u) in ordered  # the same judge sees the swapped order
    covered = {(min(a.first, a.second), max(a.first, a.second)) for a in plan.assignments}
    assert covered | set(plan.unassigned) == set(pairs)
    for u, v in plan.unassigned:  # left out only when every judge wrote one of them
        assert set(judges) <= authors[u] | authors[v]


def test_pair_without_eligible_judge_is_reported() -> None:
    plan = assign_judges([(0, 1)], [{"a"}, {"b"}], ["a", "b"], seed=1)
    assert plan.assignments == [] and plan.unassigned == [(0, 1)]


def test_load_is_balanced() -> None:
    judges = ["a", "b", "c", "d"]
    pairs = list(itertools.combinations(range(8), 2))
    plan = assign_judges(pairs, [set()] * 8, judges, seed=5)
    load = [sum(a.judge == j for a in plan.assignments) for j in judges]
    assert max(load) - min(load) <= 2


def test_bad_designs_are_refused() -> None:
    with pytest.raises(DesignError):
        pair_design(3, 0, 1)
    with pytest.raises(DesignError):
        assign_judges([(0, 0)], [set()], ["a"], 1)
    with pytest.raises(DesignError):
        assign_judges([(0, 1)], [set(), set()], ["a", "a"], 1)


def test_weighted_draw_is_seeded_order_free_and_weighted() -> None:
    ids = [f"n{i}" for i in range(10)]
    draw = weighted_draw(ids, [1.0] * 10, 4, seed=9)
    assert draw == weighted_draw(list(reversed(ids)), [1.0] * 10, 4, seed=9)
    assert len(set(draw)) == 4
    assert weighted_draw(ids, [0.0] * 9 + [1.0], 3, seed=1) == ["n9"]
    counts = dict.fromkeys(ids, 0)
    for s in range(400):
        for x in weighted_draw(ids, [10.0] + [1.0] * 9, 1, seed=s):
            counts[x] += 1
    assert counts["n0"] > 3 * max(v for k, v in counts.items() if k != "n0")
