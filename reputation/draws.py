"""The seeded choices of a round, which anyone holding the log can re-draw.

Every random choice a coordinator makes is seeded from the round id
(`seed_of(round_id, purpose)`), and the round id itself is keccak of the request,
the coordinator and a nonce that the signed announcement carries. So an auditor
with the log re-draws the participants, the pair design, the judges and the
verifiers, and checks them against what the round did. The phases of
`node.round` call these functions; nothing else draws.

Participants and verifiers are drawn with the weights the signed announcement
lists (`reputation.rules.draw_weight`: stake × 2σ(reputation / scale), read from
the registry; 1 for a node the announcement does not list, e.g. without a chain),
rounded to 6 decimals before the draw so that the listed numbers are exactly the
ones drawn with. Ids are sorted before drawing, so the order in which a node lists
its peers does not matter.
"""

import random
from collections.abc import Collection, Mapping, Sequence

from eth_utils import keccak

from ranking.designs import JudgeAssignment, assign_judges, pair_design, weighted_draw
from reputation.envelope import canonical

__all__ = [
    "announced_by",
    "answer_seed",
    "assign_pairs",
    "design_pairs",
    "draw_participants",
    "draw_verifiers",
    "listed_weights",
    "round_id_for",
    "sample_others",
    "seed_of",
    "text_digest",
]


def round_id_for(
    messages: Sequence[dict[str, str]], max_tokens: int, coordinator: str, nonce: str
) -> str:
    request = canonical({"messages": list(messages), "max_tokens": max_tokens})
    return "0x" + keccak(request + coordinator.encode() + bytes.fromhex(nonce)).hex()


def announced_by(
    round_id: str | None,
    messages: Sequence[dict[str, str]],
    max_tokens: int,
    announcer: str,
    nonce: str,
) -> bool:
    """Whether `round_id` is the id of this request announced by `announcer` with `nonce`:
    nobody can announce a round in another coordinator's name (and a message of no
    round, `round_id` null, announces none)."""
    if not isinstance(round_id, str):
        return False
    return round_id_for(messages, max_tokens, announcer, nonce).lower() == round_id.lower()


def seed_of(round_id: str, purpose: str) -> int:
    """A 64-bit seed for one seeded choice of the round (anyone can recompute it)."""
    return int.from_bytes(keccak(f"{round_id}:{purpose}".encode())[:8], "big")


def text_digest(text: str) -> str:
    """keccak of a text's UTF-8 bytes: how judges and results name a candidate."""
    return "0x" + keccak(text.encode("utf-8")).hex()


def answer_seed(base_seed: int, round_id: str) -> int:
    """The seed of a node's answer in a round: from its base seed and the round id."""
    return int.from_bytes(keccak(f"{base_seed}:{round_id}".encode())[:4], "big")


def listed_weights(pool: Sequence[str], weights: Mapping[str, float]) -> list[float]:
    """The weight of each of `pool` in a draw: as listed (by address, any case), else 1."""
    lower = {a.lower(): w for a, w in weights.items()}
    return [lower.get(a.lower(), 1.0) for a in pool]


def draw_participants(
    round_id: str, pool: Sequence[str], k: int, weights: Mapping[str, float] | None = None
) -> list[str]:
    """Phase 1: up to `k` answerers (who also judge) from the eligible pool."""
    w = listed_weights(pool, weights or {})
    return weighted_draw(pool, w, k, seed_of(round_id, "participants"))


def design_pairs(round_id: str, n_candidates: int, k: int) -> list[tuple[int, int]]:
    """Phase 4: the sparse pair design (every candidate in at least min(k, n−1) pairs)."""
    return pair_design(n_candidates, k, seed_of(round_id, "pairs"))


def assign_pairs(
    round_id: str,
    pairs: Sequence[tuple[int, int]],
    authors: Sequence[Collection[str]],
    judges: Sequence[str],
    retry: bool = False,
) -> JudgeAssignment:
    """Phase 4: each pair, in both orders, to one judge who wrote neither side; `retry`
    re-assigns the tasks of judges that failed, with a seed of its own."""
    purpose = "judges-retry" if retry else "judges"
    return assign_judges(pairs, authors, judges, seed_of(round_id, purpose))


def draw_verifiers(
    round_id: str,
    candidate: int,
    pool: Sequence[str],
    authors: Collection[str],
    k: int,
    weights: Mapping[str, float] | None = None,
) -> list[str]:
    """Phase 6: up to `k` verifiers of one candidate, none of them its author."""
    eligible = [a for a in pool if a not in authors]
    if not eligible:
        return []
    count = min(k, len(eligible))
    seed = seed_of(round_id, f"verifiers:{candidate}")
    return weighted_draw(eligible, listed_weights(eligible, weights or {}), count, seed)


def sample_others(
    round_id: str, order: Sequence[int], done: Collection[int], rate: float
) -> list[int]:
    """Phase 6: the non-winning candidates also verified, each with probability `rate`
    (one seeded draw per candidate, in score order)."""
    draw = random.Random(seed_of(round_id, "sample"))
    return [c for c in order if c not in done and draw.random() < rate]
