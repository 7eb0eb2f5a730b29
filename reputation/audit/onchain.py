"""The audit's chain side: what the chain says about the owner, read once, and the
checks of the log against it.

- registration: every sender of a checked message is a member whose registration
  (its `since`, a block time) is no later than the message's timestamp plus
  `SKEW` (the freshness window a receiver allows);
- weights: each weight the owner's announcements list is `draw_weight` of the
  node's bonded stake and decayed reputation as the chain had them at some moment
  from `WINDOW` before the announcement (a node reads the registry every
  `chain.refresh_seconds`, so its weights are that old at most) to `SKEW` after
  it (block times and the announcer's clock differ: an embedded py-evm chain runs
  seconds ahead, one block a second), to `WEIGHT_TOLERANCE`;
- roots: each batch's root in the log is the root the owner committed on chain,
  and the owner committed no batch the log does not hold;
- reputation: the changes and slashes on chain under the owner's batches are
  exactly those the log's results give (`reputation.audit.batches`), and no batch
  of the owner's has changes on chain that the log does not hold.
"""

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts.client import Chain
from reputation.audit.batches import BatchAudit
from reputation.audit.entries import Checked
from reputation.audit.findings import Finding
from reputation.history import ReputationHistory
from reputation.rules import decayed, draw_weight

__all__ = ["SKEW", "ChainFacts", "check_chain", "read_chain"]

WINDOW = 120.0
"""Seconds before an announcement in which its weights must have been true."""
WEIGHT_TOLERANCE = 1e-3
"""Relative: a listed weight is rounded to 1e-6, and the decay of a reputation over
`WINDOW` changes a weight by less than this."""
SKEW = 60.0
"""Seconds a message's timestamp may run ahead of the block that registered its
sender (clocks differ; a receiver allows as much)."""


@dataclass
class ChainFacts:
    contract: str
    slash_bps: int = 0
    stakes: dict[str, list[tuple[float, str, int]]] = field(default_factory=dict)
    """Node → its bonded stake's changes in order: (block time, kind, value)."""
    history: ReputationHistory = field(default_factory=ReputationHistory)
    registered: dict[str, float] = field(default_factory=dict)
    """Member (lower-case address) → its registration's block time."""
    roots: dict[int, bytes] = field(default_factory=dict)
    changes: dict[int, dict[str, int]] = field(default_factory=dict)
    """The owner's batch → node → reputation change settled on chain."""
    slashes: dict[int, list[tuple[str, int, str]]] = field(default_factory=dict)


async def read_chain(chain: Chain, owner: str, batches: Sequence[int]) -> ChainFacts:
    facts = ChainFacts(chain.address)
    for m in await chain.members():
        facts.registered[m.node.lower()] = float(m.since)
    count = await chain.batches(owner)
    for b in sorted(set(range(count)) | set(batches)):
        root = await chain.root(owner, b)
        if root is not None:
            facts.roots[b] = root
    changes: dict[int, dict[str, int]] = defaultdict(dict)
    for e in await chain.events("ReputationChanged", committer=owner):
        a = e["args"]
        node = a["node"].lower()
        changes[int(a["batch"])][node] = changes[int(a["batch"])].get(node, 0) + int(a["delta"])
    facts.changes = dict(changes)
    slashes: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for e in await chain.events("Slashed", committer=owner):
        a = e["args"]
        slashes[int(a["batch"])].append(
            (a["node"].lower(), int(a["kind"]), "0x" + bytes(a["evidence"]).hex())
        )
    facts.slashes = dict(slashes)
    facts.slash_bps = int(await chain.call("slash_bps"))
    await facts.history.update(chain)
    stake_events = []
    for name in ("Registered", "Staked", "UnstakeRequested", "Slashed"):
        stake_events += [(name, e) for e in await chain.events(name)]
    blocks = sorted({int(e["blockNumber"]) for _, e in stake_events})
    times = dict(zip(blocks, await asyncio.gather(*map(chain.block_time, blocks)), strict=True))
    stake_events.sort(key=lambda x: (int(x[1]["blockNumber"]), int(x[1]["logIndex"])))
    for name, e in stake_events:
        a = e["args"]
        value = int(a["stake"] if name in ("Registered", "Staked") else a.get("amount", 0))
        facts.stakes.setdefault(a["node"].lower(), []).append(
            (float(times[int(e["blockNumber"])]), name, value)
        )
    return facts


def stake_at(facts: ChainFacts, node: str, when: float) -> int:
    """The node's bonded stake after every change mined by `when`."""
    stake = 0
    for t, kind, value in facts.stakes.get(node.lower(), []):
        if t > when:
            break
        if kind in ("Registered", "Staked"):
            stake = value
        elif kind == "UnstakeRequested":
            stake -= value
        else:  # Slashed: the bonded share of the cut
            stake -= stake * facts.slash_bps // 10_000
    return stake


def weight_at(facts: ChainFacts, node: str, when: float) -> float:
    """`draw_weight` as a registry read at `when` gave it."""
    changes = [c for c in facts.history.of(node) if c[0] <= when]
    return draw_weight(stake_at(facts, node, when), decayed(changes, when))


def _weights(facts: ChainFacts, announce: Checked) -> list[Finding]:
    """The listed weights, each true at some moment of the window before the announcement."""
    out = []
    listed = announce.message["payload"].get("weights") or {}
    if not isinstance(listed, dict) or not all(
        isinstance(w, int | float) and not isinstance(w, bool) for w in listed.values()
    ):
        return [
            Finding(
                "weights",
                "the listed weights are not numbers by node",
                announce.entry.round_id,
                announce.entry.seq,
            )
        ]
    end = announce.entry.timestamp
    for node, weight in listed.items():
        first, last = end - WINDOW, end + SKEW
        changed = [t for t, _, _ in facts.stakes.get(node.lower(), [])]
        changed += [t for t, _ in facts.history.of(node)]
        moments = [end, first, last] + [t for t in changed if first < t <= last]
        expected = [weight_at(facts, node, m) for m in moments]
        if not any(abs(weight - e) <= WEIGHT_TOLERANCE * max(e, 1e-6) + 1e-6 for e in expected):
            out.append(
                Finding(
                    "weights",
                    f"{node}'s listed weight {weight}; the chain gave {expected[0]:.6f}",
                    announce.entry.round_id,
                    announce.entry.seq,
                )
            )
    return out


def check_chain(
    facts: ChainFacts, checked: Sequence[Checked], batches: Sequence[BatchAudit], owner: str
) -> list[Finding]:
    findings: list[Finding] = []
    for c in checked:
        if c.entry.type == "announce" and c.entry.sender.lower() == owner.lower():
            findings += _weights(facts, c)
        if c.entry.type == "epoch":
            continue  # a node notes its epoch before it registers (a new node's first)
        since = facts.registered.get(c.entry.sender.lower())
        if since is None or since == 0:
            findings.append(
                Finding(
                    "registration",
                    f"{c.entry.type} from {c.entry.sender}, never registered",
                    c.entry.round_id,
                    c.entry.seq,
                )
            )
        elif since > c.entry.timestamp + SKEW:
            findings.append(
                Finding(
                    "registration",
                    f"{c.entry.type} from {c.entry.sender}, signed before it registered",
                    c.entry.round_id,
                    c.entry.seq,
                )
            )
    logged = {b.batch.batch: b for b in batches}
    for number, b in logged.items():
        on_chain = facts.roots.get(number)
        if b.batch.committed_block is None and on_chain is None:
            continue  # not committed yet
        if on_chain is None or "0x" + on_chain.hex() != b.batch.root:
            shown = "none" if on_chain is None else "0x" + on_chain.hex()
            findings.append(
                Finding("root", f"batch {number}: the log's root {b.batch.root}; on chain {shown}")
            )
        s = b.settlement
        if s is None:
            continue
        expected = {n.lower(): d for n, d in s.changes}
        cut = {(x.node.lower(), x.kind, "0x" + x.evidence.hex()) for x in s.slashes}
        got = facts.changes.get(number, {})
        got_slashes = set(facts.slashes.get(number, []))
        settled = number in facts.changes or number in facts.slashes
        if settled and (got != expected or got_slashes != cut):
            findings.append(
                Finding(
                    "reputation",
                    f"batch {number}: changes on chain {_show(got)}; the log's results "
                    f"give {_show(expected)}",
                )
            )
    for number in sorted(set(facts.roots) - set(logged)):
        findings.append(Finding("root", f"batch {number}: committed on chain, not in the log"))
    for number in sorted((set(facts.changes) | set(facts.slashes)) - set(logged)):
        findings.append(
            Finding(
                "reputation",
                f"batch {number}: changes on chain {_show(facts.changes.get(number, {}))} that "
                "the log does not hold",
            )
        )
    return findings


def _show(changes: dict[str, int]) -> str:
    return "{" + ", ".join(f"{n[:10]}…: {d / 1e18:+.6f}" for n, d in sorted(changes.items())) + "}"
