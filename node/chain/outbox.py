"""Every chain write goes through the outbox: a table in the node's log, drained in order.

An `Outbox` works for one deployment, the chain id and contract of its `Chain`:
it stores, reads and drains only the rows bound to that deployment
(`reputation.chainlog`), so a row written for a wiped chain or another contract is
never sent to, or believed done on, this one.

`put` stores a write under a key (the same key twice is one write) and wakes the
drain. The drain (`run`) takes the rows in order, one at a time, so nonces stay in
sequence and a batch's commit is mined before its settlement:

- pending: the call is built and signed with the next nonce (gas estimated: a call
  the contract refuses fails here and is never sent); the signed bytes are stored
  *before* they are sent, so a restart re-broadcasts the same transaction rather
  than a second one;
- sent: the receipt is polled. Mined and `confirmations` deep: done. Not mined:
  the same bytes are broadcast again (an RPC that restarted may have lost its
  pool), unless the nonce has been used by another transaction, in which case the
  row is signed anew. Reverted: failed, with the reason (`Chain.revert_reason`);
  out of gas, signed anew with a fresh estimate (`OUT_OF_GAS_ATTEMPTS`).

A refusal that means the write already took effect (a replay of a registration
or a settlement that landed earlier) counts as done. While the RPC is down the
drain waits, doubling the wait up to `retry_seconds`, and nothing is lost: the rows
stay in SQLite across restarts.
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from contracts.client import Chain, ChainRefused, ChainUnavailable
from node.journal import Journal
from reputation.chainlog import (
    OutboxRow,
    at,
    enqueue,
    next_seq,
    outbox_pending,
    outbox_row,
    update_outbox,
)

__all__ = ["ALREADY_DONE", "Outbox"]

log = logging.getLogger(__name__)

ALREADY_DONE = ("already registered", "batch already settled")
"""Contract refusals that mean the write had already taken effect."""
SAME_TRANSACTION = (
    "already known",
    "already imported",
    "nonce too low",
    "invalid transaction nonce",
)
"""RPC errors on a broadcast that mean the transaction is pooled or its nonce is used."""
OUT_OF_GAS_ATTEMPTS = 3
"""A write mined out of gas (the state changed between estimate and block) is signed
anew, with a fresh estimate, until it has been sent this many times."""


class Outbox:
    def __init__(
        self,
        chain: Chain,
        account: Any,
        journal: Journal,
        confirmations: int = 0,
        retry_seconds: float = 30.0,
        on_done: Callable[[OutboxRow, int], Any] | None = None,
    ):
        self.chain = chain
        self.account = account
        self.journal = journal
        self.confirmations = confirmations
        self.retry_seconds = retry_seconds
        self.on_done = on_done
        self.at = at(chain.chain_id, chain.address)
        """The deployment this outbox writes to: (chain id, lower-case contract)."""
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    async def put(self, key: str, function: str, args: list[Any], value: int = 0) -> bool:
        where = self.at
        added: bool = await self.journal.read(
            lambda db: enqueue(db, where, key, function, args, value)
        )
        self.wake()
        return added

    def wake(self) -> None:
        """Drain now: a row was queued (here or with another write of the log)."""
        self._wake.set()

    async def row(self, key: str) -> OutboxRow | None:
        """The row under `key` on this deployment (None: never written here)."""
        where = self.at
        return await self.journal.read(lambda db: outbox_row(db, where, key))

    async def seq(self, prefix: str) -> int:
        """The sequence number of the next write of the kind `prefix` (`next_seq`)."""
        where = self.at
        n: int = await self.journal.read(lambda db: next_seq(db, where, prefix))
        return n

    async def wait(self, key: str, timeout: float) -> OutboxRow:
        """Drain until the write under `key` is done or failed (TimeoutError after
        `timeout`)."""
        async with asyncio.timeout(timeout):
            while True:
                row = await self.row(key)
                if row is None:
                    raise KeyError(key)
                if row.status in ("done", "failed"):
                    return row
                try:  # drive the drain (the running drain task may be waiting too)
                    if not await self.drain():
                        await asyncio.sleep(0.1)
                except ChainUnavailable:
                    await asyncio.sleep(0.5)

    async def run(self) -> None:
        """Drain forever."""
        delay = 0.5
        while True:
            try:
                idle = await self.drain()
                delay = 0.5
            except Exception as exc:  # the RPC down, or anything else: never lose the rows
                log.warning("chain writes wait %.1f s: %s", delay, exc)
                idle = True
                await asyncio.sleep(delay * (1 + 0.1 * random.random()))
                delay = min(2 * delay, self.retry_seconds)
                continue
            # idle: until woken or a second passes; a write waiting to be mined is
            # looked at again after a tenth of a second, not at once
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=1.0 if idle else 0.1)

    async def drain(self) -> bool:
        """Advance the rows in order until one must wait; True when nothing is left."""
        async with self._lock:  # one drain at a time: nonces in sequence
            where = self.at
            for row in await self.journal.read(lambda db: outbox_pending(db, where)):
                if not await self._advance(row):
                    return False
            return True

    async def _advance(self, row: OutboxRow) -> bool:
        """One step for `row`; True if it is finished (done or failed)."""
        if row.status == "sent" and row.tx_hash:
            return await self._follow(row)
        nonce = await self.chain.nonce(self.account.address)
        try:
            tx_hash, raw = await self.chain.signed_call(
                self.account, row.function, row.args, row.value, nonce
            )
        except ChainRefused as exc:
            status = "done" if any(r in str(exc) for r in ALREADY_DONE) else "failed"
            await self._update(row, status=status, error=str(exc), attempts=row.attempts + 1)
            if status == "failed":
                log.error("chain write %s refused by the contract: %s", row.key, exc)
            return True
        sent = replace(row, status="sent", tx_hash=tx_hash, raw_tx=raw, nonce=nonce)
        await self._update(
            row, status="sent", tx_hash=tx_hash, raw_tx=raw, nonce=nonce, attempts=row.attempts + 1
        )
        await self._broadcast(raw)
        return await self._follow(sent)

    async def _follow(self, row: OutboxRow) -> bool:
        assert row.tx_hash is not None and row.raw_tx is not None and row.nonce is not None
        receipt = await self.chain.receipt(row.tx_hash)
        if receipt is None:
            # mined nonces only: our own pooled transaction counts in the pending one
            if await self.chain.nonce(self.account.address, pending=False) > row.nonce:
                # Our nonce went to another transaction and ours is not mined: sign anew.
                await self._update(row, status="pending", tx_hash=None, raw_tx=None, nonce=None)
            else:
                await self._broadcast(row.raw_tx)
            return False
        block = int(receipt["blockNumber"])
        if self.confirmations and await self.chain.block_number() - block < self.confirmations:
            return False
        if int(receipt["status"]) != 1:
            reason = await self.chain.revert_reason(row.tx_hash, receipt)
            if reason.startswith("out of gas") and row.attempts < OUT_OF_GAS_ATTEMPTS:
                log.warning(
                    "chain write %s ran %s in block %d; signing it anew", row.key, reason, block
                )
                await self._update(row, status="pending", tx_hash=None, raw_tx=None, nonce=None)
                return False
            status = "done" if any(r in reason for r in ALREADY_DONE) else "failed"
            await self._update(row, status=status, error=reason, block=block)
            if status == "failed":
                log.error("chain write %s reverted in block %d: %s", row.key, block, reason)
            return True
        await self._update(row, status="done", block=block, error=None)
        if self.on_done is not None:
            await self.on_done(row, block)
        return True

    async def _broadcast(self, raw: bytes) -> None:
        try:
            await self.chain.send_raw(raw)
        except ChainUnavailable as exc:
            text = str(exc).lower()
            if any(m in text for m in SAME_TRANSACTION):
                return  # the same transaction is pooled or mined; the receipt tells
            raise

    async def _update(self, row: OutboxRow, **fields: Any) -> None:
        await self.journal.read(lambda db: update_outbox(db, row.id, **fields))
