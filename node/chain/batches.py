"""Batched Merkle commitments of this node's rounds, and their quorum-signed settlements.

Every `period` seconds the batcher

1. puts this node's settled rounds that are in no batch yet into a new batch once
   there are `chain.batch_rounds` of them or the oldest is `chain.batch_seconds`
   old: the Merkle root of their signed result digests (`contracts.merkle`), in the
   order the rounds were created, is stored with the batch and its commit queued
   in the outbox, in one transaction;
2. settles each committed batch: the reputation rules (`reputation.batch_rule`)
   gives the reputation changes and slashes of its results and of the
   equivocation evidence logged since the batch before; the batch's other
   participants are asked to co-sign (`node.serve.cosign`); with a quorum of
   signatures (this node's own included) the settlement is queued in the
   outbox. A batch that changes nothing is marked settled without a transaction.
   Without a quorum it is tried again at the next tick. Only participants that
   are active on chain now (staked at least the minimum) sign, since the contract
   counts no other signature: a participant slashed below the minimum by an
   earlier settlement no longer helps a batch settle, and a batch with fewer
   active participants than its quorum waits until enough of them top up.

The outbox reports mined writes back (`on_done`), so a batch records the blocks
its commit and settlement went into.
"""

import asyncio
import json
import logging
import time
from typing import Any

from contracts import merkle
from contracts.client import Chain, ChainError
from contracts.settlement import Settlement, quorum, recover, sign
from node.chain.outbox import Outbox
from node.config import ChainConfig
from node.journal import Journal
from node.peers.directory import Directory
from node.peers.fanout import fan_out
from reputation.batch_rule import settle_batch
from reputation.chainlog import (
    Batch,
    OutboxRow,
    add_batch,
    batch_of_round,
    batches,
    evidence_after,
    last_evidence,
    unbatched_rounds,
    update_batch,
)
from reputation.envelope import digest, recover_sender, sign_envelope
from reputation.evidence import check_equivocation
from reputation.messages import SettleSignaturePayload, payload_of
from reputation.result import SwarmResult

__all__ = ["COSIGN_PATH", "Batcher", "inclusion"]

log = logging.getLogger(__name__)

COSIGN_PATH = "/swarm/v1/cosign"


def _results(db: Any, batch: int) -> list[dict[str, Any]]:
    rows = db.db.execute(
        "SELECT m.raw FROM batch_rounds b JOIN messages m ON m.message_digest = b.result_digest "
        "WHERE b.batch = ? ORDER BY b.leaf",
        [batch],
    ).fetchall()
    return [json.loads(raw) for (raw,) in rows]


class Batcher:
    def __init__(
        self,
        chain: Chain,
        outbox: Outbox,
        account: Any,
        journal: Journal,
        peers: Directory,
        config: ChainConfig,
        cosign_timeout: float = 60.0,
    ):
        self.chain = chain
        self.outbox = outbox
        self.account = account
        self.journal = journal
        self.peers = peers
        self.config = config
        self.cosign_timeout = cosign_timeout
        self.period = min(5.0, config.batch_seconds / 2)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.tick()
            except ChainError as exc:
                log.warning("batches: %s", exc)
            except Exception:
                log.exception("batches: unexpected failure; trying again at the next tick")

    async def tick(self, force: bool = False) -> None:
        """Make a batch if one is due (`force`: of whatever is waiting), then settle
        every committed batch that is not settled."""
        await self.make_batch(force)
        for batch in await self.journal.read(lambda db: batches(db, unsettled_only=True)):
            if batch.committed_block is not None:
                await self.settle(batch)

    async def make_batch(self, force: bool = False) -> Batch | None:
        address = self.account.address
        waiting = await self.journal.read(lambda db: unbatched_rounds(db, address))
        if not waiting:
            return None
        due = len(waiting) >= self.config.batch_rounds
        due = due or time.time() - waiting[0][1] >= self.config.batch_seconds
        if not (due or force):
            return None
        take = [(rid, d) for rid, _, d in waiting[: self.config.batch_rounds]]
        root = merkle.root([d for _, d in take])

        def store(db: Any) -> Batch:
            before = batches(db)
            first = before[-1].last_evidence if before else 0
            evidence = (first, last_evidence(db))
            return add_batch(db, "0x" + root.hex(), take, evidence, self.outbox.at)

        batch = await self.journal.read(store)  # its commit is queued with it
        self.outbox.wake()
        log.info("batch %d: %d rounds, root %s", batch.batch, len(take), batch.root)
        return batch

    async def settlement(self, batch: Batch) -> tuple[Settlement, dict[str, Any]]:
        """The batch's settlement and the co-sign request that lets others rebuild it."""
        signed = await self.journal.read(lambda db: _results(db, batch.batch))
        pairs = await self.journal.read(lambda db: evidence_after(db, batch.first_evidence))
        pairs = [(i, a, b) for i, a, b in pairs if i <= batch.last_evidence]
        results = [(digest(m), SwarmResult.model_validate(m["payload"])) for m in signed]
        evidence = [(check_equivocation(a, b), a, b) for _, a, b in pairs]
        root = bytes.fromhex(batch.root[2:])
        settlement = settle_batch(self.account.address, batch.batch, root, results, evidence)
        request = sign_envelope(
            self.account,
            "settle_request",
            None,
            {
                "batch": batch.batch,
                "root": batch.root,
                "chain_id": self.chain.chain_id,
                "contract": self.chain.address,
                "results": signed,
                "evidence": [[a, b] for _, a, b in pairs],
            },
        )
        return settlement, request

    async def settle(self, batch: Batch) -> bool:
        """Gather a quorum's signatures and queue the settlement; False if short of one."""
        settlement, request = await self.settlement(batch)
        if not settlement.changes and not settlement.slashes:
            await self.journal.read(
                lambda db: update_batch(db, batch.batch, settlement={"empty": True})
            )
            return True
        need = quorum(len(settlement.participants))
        minimum = await self.chain.min_stake()
        staked = {m.node.lower() for m in await self.chain.members() if m.active(minimum)}
        active = [p for p in settlement.participants if p.lower() in staked]
        if len(active) < need:
            log.warning(
                "batch %d: %d of its %d participants are staked, %d must sign; waiting",
                batch.batch,
                len(active),
                len(settlement.participants),
                need,
            )
            return False
        own = self.account.address
        signatures = {}
        if own.lower() in {a.lower() for a in active}:
            signatures[own] = sign(
                self.account, settlement, self.chain.chain_id, self.chain.address
            )
        others = [p for p in active if p.lower() != own.lower()]

        def read(address: str, reply: Any) -> bytes:
            if recover_sender(reply).lower() != address.lower():
                raise ValueError("the reply is not signed by the node asked")
            payload = payload_of(SettleSignaturePayload, reply)
            signature = bytes.fromhex(payload.signature[2:])
            signer = recover(settlement, self.chain.chain_id, self.chain.address, signature)
            if signer.lower() != address.lower():
                raise ValueError("the signature is not the node's signature of this settlement")
            return signature

        gathered = await fan_out(
            self.peers, COSIGN_PATH, {a: request for a in others}, self.cosign_timeout, read
        )
        signatures.update(gathered.replies)
        if len(signatures) < need:
            log.warning(
                "batch %d: %d of %d signatures needed (%s); trying again later",
                batch.batch,
                len(signatures),
                need,
                "; ".join(f"{a}: {e}" for a, e in gathered.failures().items()),
            )
            return False
        signers = [a for a in settlement.participants if a in signatures][:need]
        record = {
            "participants": list(settlement.participants),
            "changes": [[n, str(d)] for n, d in settlement.changes],
            "slashes": [[s.node, s.kind, "0x" + s.evidence.hex()] for s in settlement.slashes],
            "signers": signers,
        }
        args = settlement.call_args([signatures[a] for a in signers])
        await self.outbox.put(f"settle:{batch.batch}", "settle", args)
        await self.journal.read(lambda db: update_batch(db, batch.batch, settlement=record))
        log.info(
            "batch %d: settlement signed by %d of %d",
            batch.batch,
            need,
            len(settlement.participants),
        )
        return True

    async def on_done(self, row: OutboxRow, block: int) -> None:
        """The outbox's report of a mined write: record the block on the batch."""
        kind, _, index = row.key.partition(":")
        if kind in ("commit", "settle") and index.isdigit():
            column = "committed_block" if kind == "commit" else "settled_block"
            await self.journal.read(lambda db: update_batch(db, int(index), **{column: block}))


def inclusion(db: Any, round_id: str) -> dict[str, Any] | None:
    """The batch a round went into and its inclusion proof (in the log's thread):
    None until the round is in a batch. `committed_block` is None until the commit
    is mined; the proof checks on chain with the contract's `proves(committer,
    batch, result_digest, proof)`."""
    found = batch_of_round(db, round_id)
    if found is None:
        return None
    batch, leaf, digests = found
    return {
        "batch": batch.batch,
        "root": batch.root,
        "leaf": leaf,
        "result_digest": digests[leaf],
        "proof": ["0x" + p.hex() for p in merkle.proof(digests, leaf)],
        "committed_block": batch.committed_block,
        "settled_block": batch.settled_block,
    }
