"""The sampling-excess limit on synthetic next-token distributions (numpy, no engine):
honest samples stay within it about as rarely as ALPHA says, whatever the temperature
and nucleus; samples from another distribution go beyond it."""

import math

import numpy as np
import pytest

from verification.sampling import ALPHA, _tail_weight, excess, moments

VOCAB = 400
K = 20


def _positions(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    """n next-token log-probability vectors (T = 1) over VOCAB, peaked to `spread`."""
    logits = rng.standard_normal((n, VOCAB)) * spread
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _sampling_probs(logprobs: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    """The distribution vLLM draws from: tempered, then nucleus-truncated."""
    tempered = np.exp((logprobs - logprobs.max()) / temperature)
    tempered /= tempered.sum()
    order = np.argsort(-tempered)
    before = np.cumsum(tempered[order]) - tempered[order]
    kept = np.zeros_like(tempered)
    kept[order[before < top_p]] = tempered[order[before < top_p]]
    return kept / kept.sum()


def _claim(rng, logprobs, draw_from) -> tuple[list[float], list[list[float]]]:
    """Each position's gap to the argmax for a token drawn from `draw_from`, and its top K."""
    gaps, tops = [], []
    for lp, probs in zip(logprobs, draw_from, strict=True):
        token = rng.choice(VOCAB, p=probs)
        gaps.append(float(lp.max() - lp[token]))
        tops.append(sorted(lp.tolist(), reverse=True)[:K])
    return gaps, tops


def _beyond_rate(seed: int, temperature: float, top_p: float, other: float = 0.0) -> float:
    """How often claims declared at `temperature` go beyond the limit when drawn from a
    model whose logits are `other` parts another model's (0: the verifier's own)."""
    rng = np.random.default_rng(seed)
    beyond = 0
    trials = 150
    for _ in range(trials):
        spread = rng.uniform(1.0, 3.0)
        lps = _positions(rng, 48, spread)
        drawn = (1 - other) * lps + other * _positions(rng, 48, spread)
        draw = [_sampling_probs(lp, temperature, top_p) for lp in drawn]
        gaps, tops = _claim(rng, lps, draw)
        found = excess(gaps, [moments(t, temperature, top_p, VOCAB) for t in tops])
        beyond += found.beyond
    return beyond / trials


@pytest.mark.parametrize(
    ("temperature", "top_p"), [(0.3, 1.0), (0.7, 0.95), (1.0, 1.0), (1.5, 0.9)]
)
def test_honest_samples_stay_within_the_limit(temperature: float, top_p: float) -> None:
    # ALPHA is 1e-3: with 150 claims, even one beyond would be a ~14% event.
    assert _beyond_rate(1, temperature, top_p) <= 1 / 150


@pytest.mark.parametrize(("temperature", "caught"), [(0.3, 0.9), (0.7, 0.5)])
def test_most_samples_of_another_model_go_beyond(temperature: float, caught: float) -> None:
    # Logits half another model's; the higher the temperature, the more an honest
    # sample spreads and the less a foreign one stands out.
    assert _beyond_rate(2, temperature, 1.0, other=0.5) >= caught


def test_moments_are_exact_when_the_top_k_holds_the_whole_vocabulary() -> None:
    rng = np.random.default_rng(3)
    lp = _positions(rng, 1, 2.0)[0][:K]
    lp = lp - np.log(np.exp(lp).sum())  # a vocabulary of K tokens
    for temperature, top_p in [(0.5, 1.0), (1.0, 0.8), (1.7, 0.95)]:
        found = moments(lp.tolist(), temperature, top_p, K)
        probs = _sampling_probs(lp, temperature, top_p)
        h = np.minimum(lp.max() - lp, found.cap)
        mean = float((probs * h).sum())
        assert found.mean == pytest.approx(mean, abs=1e-9)
        assert found.var == pytest.approx(float((probs * (h - mean) ** 2).sum()), abs=1e-9)


def test_the_mass_beyond_the_top_k_is_bounded_from_above() -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        lp = np.sort(_positions(rng, 1, rng.uniform(0.5, 4.0))[0])[::-1]
        first, cap = lp[0], lp[0] - lp[K - 1]
        rest = float(np.exp(lp[K:]).sum() / math.exp(first))
        for temperature in (0.2, 0.7, 1.0, 1.3, 2.0):
            exact = float(np.exp((lp[K:] - first) / temperature).sum())
            bound = _tail_weight(rest, cap, temperature, VOCAB, K)
            assert bound >= exact * (1 - 1e-9)


def test_a_claim_without_positions_has_no_excess() -> None:
    found = excess([], [])
    assert found.excess == 0.0 and not found.beyond and ALPHA < 0.01
