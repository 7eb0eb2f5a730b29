"""Is a claimed sample further from the argmax than honest sampling goes? (pure)

A claimed sampled answer passes the teacher-forced check when no token is far
outside what tempered sampling draws. A text from another model can pass it
with every token moderately unlikely; what gives it away is the sum: its tokens
sit, on the whole, further from the verifier's argmax than samples of the
verifier's own model at the declared temperature would. How far honest samples
go depends on the prompt (a poem spreads over many words, an arithmetic answer
over few), so the limit is not a constant: it is computed from the verifier's
own next-token distributions at each position.

At each position the verifier knows the top-K log-probabilities (`TokenScore.top`,
K = 20 from the backend) and the claimed token's gap to the argmax, g. With a cap
c (the K-th token's gap, and at most `CAP_PER_T` × T), h = min(g, c) has, under
honest sampling from the tempered, nucleus-truncated distribution, a mean and a
variance computable from the top K plus the mass beyond them (all of which sits
at h = c); that mass at temperature T is bounded from above from its mass at
T = 1, so the mean is over- rather than under-estimated. The centred sum
S = Σ (h − E[h]) is then a martingale with increments at most b = max (c − E[h]),
and Freedman's inequality bounds P(S ≥ t) ≤ exp(−t² / (2 (W + b t / 3))) with
W = Σ Var[h]. `excess` returns S and the t at which that bound is `ALPHA`: an
honest sample goes beyond it at most that often, whatever the prompt, up to the
rounding that makes a verifier's distribution differ from the node's.

The cap and ALPHA are design choices, not fits: the false-positive bound holds
for any cap; a lower cap lowers b (a tighter t) and loses only the information
of very unlikely tokens, which the teacher-forced tolerance already reads.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ALPHA", "CAP_PER_T", "Excess", "Moments", "excess", "moments"]

ALPHA = 1e-3
"""Bound on how often an honest sample's gaps exceed the limit."""
CAP_PER_T = 5.0
"""Nats per unit of temperature; gaps above the cap count as the cap."""


@dataclass(frozen=True)
class Moments:
    """Mean and variance of the capped gap h under honest sampling, and the cap."""

    mean: float
    var: float
    cap: float


@dataclass(frozen=True)
class Excess:
    """The centred sum of capped gaps and the limit an honest sample stays within."""

    excess: float
    limit: float

    @property
    def beyond(self) -> bool:
        return self.excess > self.limit


def _tail_weight(rest: float, cap: float, temperature: float, vocab: int, k: int) -> float:
    """Upper bound on Σ exp((l − l₁)/T) over tokens beyond the top K, from their
    T = 1 sum `rest` (each term at most exp(−cap))."""
    if rest <= 0.0:
        return 0.0
    if temperature <= 1.0:  # e^(x/T) ≤ e^x · e^(−cap·(1/T − 1)) for x ≤ −cap
        return rest * math.exp(-cap * (1.0 / temperature - 1.0))
    n = max(vocab - k, 1)  # power-mean inequality, and each term's own bound
    return min(
        n ** (1.0 - 1.0 / temperature) * rest ** (1.0 / temperature),
        n * math.exp(-cap / temperature),
    )


def moments(top: Sequence[float], temperature: float, top_p: float, vocab: int) -> Moments:
    """`top`: the K highest log-probabilities at one position (T = 1, any order)."""
    lps = sorted(top, reverse=True)
    first = lps[0]
    gaps = [first - lp for lp in lps]
    cap = min(gaps[-1], CAP_PER_T * temperature)
    rest = max(0.0, 1.0 - sum(math.exp(lp) for lp in lps)) / math.exp(first)
    weights = [math.exp(-g / temperature) for g in gaps]
    tail = _tail_weight(rest, gaps[-1], temperature, vocab, len(lps))
    total = sum(weights) + tail
    kept: list[tuple[float, float]] = []  # (probability, capped gap), nucleus first
    cumulative = 0.0
    for w, g in zip(weights, gaps, strict=True):
        if cumulative >= top_p:
            break
        kept.append((w / total, min(g, cap)))
        cumulative += w / total
    if cumulative < top_p and tail > 0.0:  # the nucleus reaches beyond the top K
        kept.append((tail / total, cap))
    mass = sum(p for p, _ in kept)
    mean = sum(p * h for p, h in kept) / mass
    var = max(0.0, sum(p * h * h for p, h in kept) / mass - mean * mean)
    return Moments(mean, var, cap)


def excess(gaps: Sequence[float], positions: Sequence[Moments], alpha: float = ALPHA) -> Excess:
    """`gaps`: each claimed token's gap to the argmax; `positions`: `moments` there."""
    centred = sum(min(g, m.cap) - m.mean for g, m in zip(gaps, positions, strict=True))
    w = sum(m.var for m in positions)
    b = max((m.cap - m.mean for m in positions), default=0.0)
    log = math.log(1.0 / alpha)
    third = b * log / 3.0
    return Excess(centred, third + math.sqrt(third * third + 2.0 * w * log))
