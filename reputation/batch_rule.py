"""What a committed batch of rounds changes on chain (pure).

Each round's points come from the reputation rules (`reputation.rules.round_points`:
answer placement, judging agreement, −20 for an author whose candidate failed
verification); a sender caught equivocating (a pair of its signed messages under
one key, `reputation.evidence`) gets `reputation.rules.PENALTY` too. A node's
change is the sum of its points over the batch, as a fixed-point integer.
Slashes, at most one per node and kind in a batch:

- every author of a candidate whose verification failed (kind
  `FAILED_VERIFICATION`); the evidence is the digest of the round's signed
  result, which holds the verifiers' signed votes;
- every equivocator (kind `EQUIVOCATION`); the evidence is the digest of the pair
  [first, second].

The batch's participants are everyone a result names (coordinator, authors,
judges, verifiers) and every equivocator; a quorum of them must sign
(`contracts.settlement.quorum`). The coordinator builds the settlement with
`settle_batch`; a co-signer rebuilds it from the same signed results and
evidence and signs only if the two agree.
"""

from collections import defaultdict
from typing import Any

from eth_utils import to_checksum_address

from contracts.settlement import EQUIVOCATION, FAILED_VERIFICATION, Settlement, Slash
from reputation.envelope import digest
from reputation.result import SwarmResult
from reputation.rules import PENALTY, points_fixed, round_points

__all__ = ["MAX_PARTICIPANTS", "MAX_SLASHES", "participants", "settle_batch"]

MAX_PARTICIPANTS = 64
MAX_SLASHES = 16
"""The contract's bounds on one settlement."""


def participants(result: SwarmResult) -> set[str]:
    nodes = {result.coordinator}
    for c in result.candidates:
        nodes.update(c.nodes)
    nodes.update(j.node for j in result.judges)
    for outcome in result.verification:
        nodes.update(v.node for v in outcome.verifiers)
    return {to_checksum_address(n) for n in nodes}


def settle_batch(
    committer: str,
    batch: int,
    root: bytes,
    results: list[tuple[str, SwarmResult]],
    equivocations: list[tuple[str, dict[str, Any], dict[str, Any]]],
) -> Settlement:
    """The settlement of a batch of (signed result digest, result) and of
    (equivocator, first, second) evidence."""
    points: dict[str, float] = defaultdict(float)
    slashes: dict[tuple[str, int], bytes] = {}
    nodes: set[str] = set()
    for result_digest, result in results:
        nodes |= participants(result)
        for node, value in round_points(result).items():
            points[to_checksum_address(node)] += value
        failed = {o.candidate for o in result.verification if o.status == "failed"}
        for candidate in result.candidates:
            if candidate.candidate in failed:
                for author in candidate.nodes:
                    node = to_checksum_address(author)
                    slashes.setdefault((node, FAILED_VERIFICATION), _bytes(result_digest))
    for sender, first, second in equivocations:
        node = to_checksum_address(sender)
        nodes.add(node)
        points[node] += PENALTY
        slashes.setdefault((node, EQUIVOCATION), _bytes(digest([first, second])))
    deltas = {n: points_fixed(p) for n, p in points.items()}
    if len(nodes) > MAX_PARTICIPANTS:
        raise ValueError(f"a batch may have at most {MAX_PARTICIPANTS} participants")
    chosen = sorted(slashes.items())[:MAX_SLASHES]
    return Settlement(
        committer=to_checksum_address(committer),
        batch=batch,
        root=root,
        participants=tuple(sorted(nodes)),
        changes=tuple(sorted((n, d) for n, d in deltas.items() if d)),
        slashes=tuple(Slash(n, kind, ev) for (n, kind), ev in chosen),
    )


def _bytes(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest.removeprefix("0x"))
