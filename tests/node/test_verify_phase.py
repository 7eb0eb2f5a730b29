"""Phase 6's decisions with real keys, signatures and log, and scripted verifier peers
(their verdicts are the input here; the checks themselves are tested on the engine)."""

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from node.config import NodeConfig, VerificationConfig
from node.errors import VerificationFailed
from node.peers import PeerFailure
from node.state import NodeContext, Peer
from node.verify_phase import VerifyPhase
from reputation.envelope import digest, sign_envelope
from reputation.log import ConsensusLog

ROUND = "0x" + "cd" * 32


class Swarm:
    def __init__(self, tmp_path: Path, verifiers: int = 3, sample_rate: float = 0.0):
        self.me = Account.create()
        self.peers = [Account.create() for _ in range(4)]
        config = NodeConfig(
            verification=VerificationConfig(verifiers=verifiers, sample_rate=sample_rate)
        )
        self.ctx = NodeContext(
            config=config,
            account=self.me,
            backend=None,  # type: ignore[arg-type]  # phase 6's coordinator side never infers
            log=ConsensusLog(tmp_path / "log.db"),
            peers=[Peer(p.address, "http://127.0.0.1:9") for p in self.peers],
        )
        self.bad_subjects: set[str] = set()
        self.down: set[str] = set()
        self.asked: list[tuple[str, str]] = []
        self.left_out: list[tuple[str, str]] = []

    def account(self, address: str) -> Any:
        return next(a for a in [self.me, *self.peers] if a.address == address)

    async def ask(self, address: str, path: str, message: dict, timeout: float) -> Any:
        subject = message["payload"]["subject"]
        self.asked.append((address, subject))
        if address in self.down:
            raise PeerFailure("connection refused")
        passed = subject not in self.bad_subjects
        return sign_envelope(
            self.account(address),
            "verification",
            ROUND,
            {
                "subject": subject,
                "model": "m",
                "results": [
                    {"method": "teacher_forced", "passed": passed, "score": 0.0, "evidence": {}}
                ],
            },
        )

    def phase(self) -> VerifyPhase:
        announce = sign_envelope(self.me, "announce", ROUND, {"x": 1})
        return VerifyPhase(
            self.ctx,
            self.ask,
            lambda n, w, r: self.left_out.append((n, w)),
            ROUND,
            announce,
            lambda purpose: hash(purpose) % 1000,
        )

    def answer(self, author: Any, temperature: float = 0.0) -> dict:
        return sign_envelope(
            author,
            "answer",
            ROUND,
            {"text": f"answer by {author.address}", "sampling": {"temperature": temperature}},
        )


async def test_a_failed_winner_is_replaced_by_the_next_candidate(tmp_path: Path) -> None:
    s = Swarm(tmp_path)
    authors = [[s.peers[0].address], [s.peers[1].address]]
    answers = [s.answer(s.peers[0]), s.answer(s.peers[1])]
    s.bad_subjects.add(digest(answers[0]))
    winner, outcomes = await s.phase().run([0, 1], authors, answers)
    assert winner == 1
    assert [o.status for o in outcomes] == ["failed", "passed"]
    for outcome, author in zip(outcomes, authors, strict=True):
        assert len(outcome.verifiers) == 3  # three verifiers, none an author
        assert author[0] not in {v["node"] for v in outcome.verifiers}
    kinds = [e.type for e in s.ctx.log.entries()]
    assert kinds.count("verify_request") == 2 and kinds.count("verification") == 6


async def test_every_candidate_failing_fails_the_round(tmp_path: Path) -> None:
    s = Swarm(tmp_path)
    answers = [s.answer(s.peers[0]), s.answer(s.peers[1])]
    s.bad_subjects |= {digest(a) for a in answers}
    with pytest.raises(VerificationFailed, match="no candidate passed"):
        await s.phase().run([1, 0], [[s.peers[0].address], [s.peers[1].address]], answers)


async def test_a_down_verifier_is_left_out_and_the_rest_decide(tmp_path: Path) -> None:
    s = Swarm(tmp_path)
    s.down = {s.peers[1].address, s.peers[2].address}  # of me, peers 1-3: 3 are drawn
    answers = [s.answer(s.peers[0])]
    winner, (outcome,) = await s.phase().run([0], [[s.peers[0].address]], answers)
    assert winner == 0 and outcome.status == "passed"
    asked = {a for a, _ in s.asked}
    assert len(asked) == 3 and asked & s.down
    assert {n for n, where in s.left_out if where == "verify"} == asked & s.down
    assert {v["node"] for v in outcome.verifiers} == asked - s.down


async def test_nobody_to_verify_leaves_the_winner_standing_unverified(tmp_path: Path) -> None:
    s = Swarm(tmp_path)
    s.down = {a.address for a in [s.me, *s.peers]}
    winner, (outcome,) = await s.phase().run([0], [[s.peers[0].address]], [s.answer(s.peers[0])])
    assert winner == 0 and outcome.status == "unverified" and outcome.verifiers == []


async def test_sampled_answers_are_also_re_executed_and_others_sampled(tmp_path: Path) -> None:
    s = Swarm(tmp_path, verifiers=1, sample_rate=1.0)
    answers = [s.answer(s.peers[0], 0.7), s.answer(s.peers[1], 0.0), s.answer(s.peers[2], 0.7)]
    authors = [[s.peers[i].address] for i in range(3)]
    winner, outcomes = await s.phase().run([0, 1, 2], authors, answers)
    assert winner == 0 and sorted(o.candidate for o in outcomes) == [0, 1, 2]
    methods = {o.candidate: o.methods for o in outcomes}
    assert methods[0] == ["teacher_forced", "reexecution"] and methods[1] == ["teacher_forced"]
