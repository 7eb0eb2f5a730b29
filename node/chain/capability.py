"""Getting this node admitted to rounds: proof-of-capability through its peers.

`ensure_capable` does nothing for a member the contract already counts as capable
(a founder in a genesis seat, or attested and not idle past the inactivity
limit). Otherwise it asks the registry's capable members that serve the same
model, in an order seeded by this node's address, to calibrate it
(`node.calibration.calibrate`) until `MIN_ATTESTERS` have signed, then submits
their signatures with `attest` through the outbox and waits for it to be mined.
It runs at start (`node.chain.link`) after registering, again from the registry
refresh when the node has lost its admission (a long silence; after a failure at
most once per `RETRY_SECONDS`), and from `swarm calibrate`. A member below the
minimum stake is not calibrated (the admission would not make it capable). Not
enough attestations is a `NotAdmitted` with every attester's verdict: nothing is
written on chain.
"""

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from contracts.capability import MIN_ATTESTERS
from contracts.client import Chain
from node.calibration import Attester, calibrate
from node.chain.membership import write
from node.chain.outbox import Outbox
from node.errors import ConfigError
from node.inference.base import Backend
from reputation.messages import AttestationPayload, CalibrateRequestPayload

__all__ = ["RETRY_SECONDS", "Admission", "NotAdmitted", "Retest", "attesters_for", "ensure_capable"]

SESSION_TIMEOUT = 1200.0
"""Seconds one attester's session may take, replies and re-check included."""
RETRY_SECONDS = 3600.0
"""After a failed calibration, the refresh asks attesters again only this much later."""


class NotAdmitted(ConfigError):
    """Too few attesters passed this node."""


@dataclass(frozen=True)
class Admission:
    already: bool
    """The contract counted the node as capable before any calibration."""
    attestations: tuple[tuple[Attester, AttestationPayload], ...] = ()
    """Every attestation received, passed or not."""


async def attesters_for(chain: Chain, address: str, model: str) -> list[Attester]:
    """The registry's capable members serving `model`, other than `address`, in an order
    seeded by `address` (so a node does not always load the same attesters)."""
    minimum, limit, now = await chain.min_stake(), await chain.inactivity_limit(), time.time()
    capable = [
        m
        for m in await chain.members()
        if m.node.lower() != address.lower() and m.model == model and m.capable(minimum, limit, now)
    ]
    random.Random(address.lower()).shuffle(capable)
    return [Attester(m.node, m.endpoint) for m in capable]


async def ensure_capable(
    chain: Chain,
    outbox: Outbox,
    account: Any,
    backend: Backend,
    timeout: float,
    progress: Callable[[Attester, str, int, int], None] | None = None,
) -> Admission:
    if await chain.capable(account.address):
        return Admission(True)
    member = await chain.member(account.address)
    if not member.active(await chain.min_stake()):
        raise NotAdmitted(
            f"{account.address} is not a staked member: register or top up its stake first"
        )
    model = backend.model_id
    attesters = await attesters_for(chain, account.address, model)
    if len(attesters) < MIN_ATTESTERS:
        raise NotAdmitted(
            f"{account.address} needs {MIN_ATTESTERS} capable members serving {model!r} to "
            f"calibrate it; the registry has {len(attesters)}"
        )
    request = CalibrateRequestPayload(model=model, chain_id=chain.chain_id, contract=chain.address)
    got, problems = await calibrate(
        account, backend, request, attesters, MIN_ATTESTERS, SESSION_TIMEOUT, progress
    )
    passed = [a for _, a in got if a.passed][:MIN_ATTESTERS]
    if len(passed) < MIN_ATTESTERS:
        verdicts = [
            f"{who.node[:10]} scored {a.score / 100:.1f}% with {a.check_failures} failed checks"
            + (f" ({a.reasons[0]})" if a.reasons else "")
            for who, a in got
        ]
        raise NotAdmitted(
            f"{len(passed)} of the {MIN_ATTESTERS} attestations needed: "
            + "; ".join(verdicts + problems)
        )
    args = [
        account.address,
        [a.score for a in passed],
        [a.issued for a in passed],
        [bytes.fromhex(a.signature[2:]) for a in passed],
    ]
    await write(outbox, "attest:" + passed[0].session, "attest", args, 0, timeout)
    return Admission(False, tuple(got))


@dataclass
class Retest:
    """`ensure_capable` for the registry refresh: after a failure, not again for
    `RETRY_SECONDS` (attesters do real work for every session)."""

    run: Callable[[], Awaitable[Admission]]
    clock: Callable[[], float] = time.monotonic
    failed_at: float | None = None

    async def __call__(self) -> None:
        now = self.clock()
        if self.failed_at is not None and now - self.failed_at < RETRY_SECONDS:
            return
        try:
            await self.run()
            self.failed_at = None
        except NotAdmitted:
            self.failed_at = now
            raise
