"""`swarm audit` on real logs of a scripted swarm on the embedded chain: a clean log
audits clean, and each tampering is found and named."""

import sqlite3
from pathlib import Path
from typing import Any

from eth_account import Account

from contracts import merkle
from contracts.settlement import SCALE, Settlement, sign
from reputation.audit import AuditReport, audit_log, check_against_chain
from reputation.draws import draw_participants
from reputation.envelope import digest, sign_envelope
from reputation.log import ConsensusLog
from tests.reputation.audit.tamper import drop, edit, entries, rebuild_chain, set_raw, swap


async def test_a_clean_log_audits_clean_against_the_chain(logged) -> None:
    log = ConsensusLog(logged.db, readonly=True)
    try:
        report = audit_log(log)
    finally:
        log.close()
    await check_against_chain(report, logged.chain)
    assert report.owner == logged.owner
    assert [r.round_id for r in report.rounds] == logged.round_ids
    assert all(r.ranked is not None and not r.unchecked for r in report.rounds)
    assert len(report.batches) == 3 and report.chain is not None
    assert report.all_findings() == []


def audit_copy(db: Path) -> AuditReport:
    log = ConsensusLog(db, readonly=True)
    try:
        return audit_log(log)
    finally:
        log.close()


def named(report: AuditReport) -> set[tuple[str, str | None]]:
    """(check, round) of every finding."""
    return {(f.check, f.round_id) for f in report.all_findings()}


def round_with_two_verdicts(db: Path) -> tuple[str, list[tuple[int, dict[str, Any]]]]:
    for rid in dict.fromkeys(m["round_id"] for _, m in entries(db, "verdict")):
        found = entries(db, "verdict", rid)
        if len(found) >= 2:
            return rid, found
    raise AssertionError("no round with two verdicts")


def test_an_edited_verdict_is_found_with_or_without_the_chain_rebuilt(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid, ((seq, _), *_) = round_with_two_verdicts(db)

    def flip(m: dict[str, Any]) -> None:
        v = m["payload"]["verdicts"][0]
        v["p_first"] = 0.0 if v["p_first"] > 0.25 else 1.0

    edit(db, seq, flip)
    report = audit_copy(db)
    assert {("hash_chain", rid), ("signature", rid)} <= named(report)
    assert any(f.seq == seq for f in report.all_findings())
    rebuild_chain(db)  # the operator rebuilds the chain: the judge's signature still fails
    report = audit_copy(db)
    assert ("signature", rid) in named(report) and "hash_chain" not in {c for c, _ in named(report)}


def test_a_dropped_verdict_is_found(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid, ((seq, _), *_) = round_with_two_verdicts(db)
    drop(db, seq)
    assert ("hash_chain", None) in {(c, None) for c, _ in named(audit_copy(db))}
    rebuild_chain(db)  # with the chain rebuilt, the round no longer adds up
    checks = {c for c, r in named(audit_copy(db)) if r == rid}
    assert checks & {"ranking", "draw", "verdicts"}, checks


def test_reordered_messages_are_found(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    (a, _), (b, _) = entries(db, "answer", logged.round_ids[2])[:2]
    swap(db, a, b)
    report = audit_copy(db)
    assert {f.seq for f in report.all_findings() if f.check == "hash_chain"} >= {a, b}


def test_a_forged_signature_is_found(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid = logged.round_ids[1]
    (seq, answer), *_ = entries(db, "answer", rid)
    mallory = Account.create()
    forged = sign_envelope(mallory, "answer", rid, answer["payload"], answer["timestamp"])
    forged["sender"] = answer["sender"]  # in another's name
    set_raw(db, seq, forged, rebuild=True)
    report = audit_copy(db)
    assert [(f.check, f.seq) for f in report.all_findings() if f.check == "signature"] == [
        ("signature", seq)
    ]
    assert ("candidates", rid) in named(report)  # the round is short of that answer


def test_a_swapped_answer_text_is_found(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid = logged.round_ids[3]
    (seq, _), *_ = entries(db, "answer", rid)
    edit(db, seq, lambda m: m["payload"].update(text="The sea is green."), rebuild=True)
    report = audit_copy(db)
    assert ("signature", rid) in named(report) and ("candidates", rid) in named(report)


async def test_a_result_re_signed_with_another_winner_is_found(logged, tmp_path) -> None:
    """The operator's attack: it holds the coordinator's key, re-signs a round's result
    with another winner, rebuilds the hash chain and even its batch's root."""
    db = logged.copy(tmp_path)
    rid = logged.round_ids[0]
    ((seq, result),) = entries(db, "result", rid)
    other = next(
        c
        for c in result["payload"]["candidates"]
        if c["candidate"] != result["payload"]["winner"]["candidate"]
    )

    def crown(p: dict[str, Any]) -> None:
        p["winner"] = {
            **p["winner"],
            "candidate": other["candidate"],
            "node": other["node"],
            "digest": other["digest"],
        }

    edit(db, seq, crown, key=logged.swarm.nodes[0].ctx.account)
    rebuild_chain(db)
    _restamp_batch(db, rid, entries(db, "result", rid)[0][1])
    report = audit_copy(db)
    assert ("winner", rid) in named(report)
    assert all(c not in {"hash_chain", "signature", "merkle"} for c, _ in named(report))
    await check_against_chain(report, logged.chain)
    assert ("root", None) in named(report)  # the root on chain is the honest one


def test_participants_that_do_not_follow_the_seed_are_found(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    rid = logged.round_ids[4]
    ((seq, _),) = entries(db, "announce", rid)

    def rig(p: dict[str, Any]) -> None:
        p["participants"] = list(reversed(p["participants"]))[:3]

    edit(db, seq, rig, key=logged.swarm.nodes[0].ctx.account, rebuild=True)
    assert ("draw", rid) in named(audit_copy(db))


async def test_a_root_on_chain_that_the_log_does_not_match_is_found(logged, tmp_path) -> None:
    """The log's batch 0 holds one round less (self-consistent: its root is its leaves'),
    so its root is not the one committed on chain."""
    db = logged.copy(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM batch_rounds WHERE batch = 0 AND leaf = 3")
        leaves = [
            d
            for (d,) in conn.execute(
                "SELECT result_digest FROM batch_rounds WHERE batch = 0 ORDER BY leaf"
            )
        ]
        conn.execute(
            "UPDATE batches SET root = ? WHERE batch = 0", ["0x" + merkle.root(leaves).hex()]
        )
    report = audit_copy(db)
    assert "merkle" not in {c for c, _ in named(report)}
    await check_against_chain(report, logged.chain)
    assert [f.message[:8] for f in report.all_findings() if f.check == "root"] == ["batch 0:"]


async def _send(chain: Any, account: Any, function: str, args: list[Any]) -> None:
    nonce = await chain.nonce(account.address)
    tx_hash, raw = await chain.signed_call(account, function, args, 0, nonce)
    await chain.send_raw(raw)
    receipt = await chain.receipt(tx_hash)
    assert receipt is not None and receipt["status"] == 1


def _restamp_batch(db: Path, round_id: str, result: dict[str, Any]) -> None:
    """Point the round's leaf at the re-signed result and re-root its batch."""
    with sqlite3.connect(db) as conn:
        (batch,) = conn.execute(
            "SELECT batch FROM batch_rounds WHERE round_id = ?", [round_id]
        ).fetchone()
        conn.execute(
            "UPDATE batch_rounds SET result_digest = ? WHERE round_id = ?",
            [digest(result), round_id],
        )
        leaves = [
            d
            for (d,) in conn.execute(
                "SELECT result_digest FROM batch_rounds WHERE batch = ? ORDER BY leaf", [batch]
            )
        ]
        conn.execute(
            "UPDATE batches SET root = ? WHERE batch = ?", ["0x" + merkle.root(leaves).hex(), batch]
        )


async def test_weights_the_chain_never_gave_are_found(logged, tmp_path) -> None:
    """The coordinator lists a heavier weight for a friend and re-draws the
    participants with it (so the draw itself checks out): only the chain says no."""
    db = logged.copy(tmp_path)
    rid = logged.round_ids[6]
    ((seq, _),) = entries(db, "announce", rid)

    def inflate(p: dict[str, Any]) -> None:
        friend = sorted(p["weights"])[0]
        p["weights"][friend] = round(p["weights"][friend] * 3, 6)
        p["participants"] = draw_participants(rid, list(p["weights"]), p["draw_size"], p["weights"])

    edit(db, seq, inflate, key=logged.swarm.nodes[0].ctx.account, rebuild=True)
    report = audit_copy(db)
    assert ("draw", rid) not in named(report) and ("weights", rid) not in named(report)
    await check_against_chain(report, logged.chain)
    assert [(f.check, f.seq) for f in report.findings if f.check == "weights"] == [("weights", seq)]


def test_a_repeated_outcome_and_an_epoch_no_node_signs_are_found(logged, tmp_path) -> None:
    """A result listing a sampled candidate's outcome twice, the first a made-up
    failure (the rules would slash its honest authors), and an epoch whose settings
    would reset the judges' records: both re-signed by the owner, the chain rebuilt."""
    db = logged.copy(tmp_path)
    owner = logged.swarm.nodes[0].ctx.account
    rid = next(r for r in logged.round_ids if len(entries(db, "verify_request", r)) >= 1)
    ((seq, _),) = entries(db, "result", rid)

    def fail_twice(p: dict[str, Any]) -> None:
        first = p["verification"][0]
        p["verification"] = [{**first, "status": "failed"}, *p["verification"]]

    edit(db, seq, fail_twice, key=owner)
    (epoch_seq, _), *_ = entries(db, "epoch")
    edit(db, epoch_seq, lambda p: p.update(records=1), key=owner, rebuild=True)
    report = audit_copy(db)
    assert ("verification", rid) in named(report)
    assert ("records", None) in named(report)


def test_garbage_in_the_log_is_reported_not_raised(logged, tmp_path) -> None:
    """Columns that are not even hex, a settlement that is not JSON: findings, no crash."""
    db = logged.copy(tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE messages SET message_digest = 'zz', digest = 'not hex' WHERE seq = 5")
        conn.execute("UPDATE batch_rounds SET result_digest = '0xnothex' WHERE batch = 1")
        conn.execute("UPDATE batches SET settlement = '[1, 2' WHERE batch = 2")
    report = audit_copy(db)
    checks = {c for c, _ in named(report)}
    assert {"hash_chain", "merkle"} <= checks


async def test_a_reputation_change_on_chain_the_log_does_not_justify_is_found(logged) -> None:
    """Three members sign a settlement of a batch the owner committed but never
    logged, raising one node's reputation: the chain holds a change no round of the
    log gives. (Last in the module: it writes to the shared chain.)"""
    chain = logged.chain
    accounts = [n.ctx.account for n in logged.swarm.nodes]
    owner = accounts[0]
    batch = await chain.batches(owner.address)
    root = merkle.root(["0x" + "77" * 32])
    await _send(chain, owner, "commit", [batch, root, 1])
    s = Settlement(
        owner.address,
        batch,
        root,
        tuple(a.address for a in accounts[:3]),
        ((accounts[1].address, 5 * SCALE),),
    )
    await _send(
        chain,
        owner,
        "settle",
        s.call_args([sign(a, s, chain.chain_id, chain.address) for a in accounts[:3]]),
    )
    log = ConsensusLog(logged.db, readonly=True)
    try:
        report = audit_log(log)
    finally:
        log.close()
    await check_against_chain(report, chain)
    found = [f for f in report.all_findings()]
    assert {f.check for f in found} == {"root", "reputation"}
    assert all(f"batch {batch}" in f.message for f in found)
