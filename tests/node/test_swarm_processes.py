"""Four nodes as separate processes on the `openai` backend, against vLLM's own
OpenAI server, on a real anvil chain: they register and stake, find each other in
the registry (no static peers), run rounds, commit them in batches whose roots are
on chain and prove a logged round there; anvil is stopped during rounds and
restarted from its saved state, and every commitment and reputation change lands
exactly once; one node is killed mid-round and the round still completes."""

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from web3 import AsyncHTTPProvider, AsyncWeb3

from contracts.anvil import Anvil, deploy_on, fund
from contracts.client import Chain, Deployment
from contracts.params import ChainParams
from node.identity import create_keystore
from reputation import ConsensusLog, verify_log
from reputation.result import SwarmReply
from tests.procs import Proc, audit_clean, free_port, start, wait_http

pytestmark = pytest.mark.engine
PASSWORD = "test-password"


class AnvilChain:
    """An anvil process with its saved state, which a test may stop and restart."""

    def __init__(self, home: Path):
        self.state, self.log = home / "state.json", home / "anvil.log"
        self.process = Anvil.start(free_port(), self.state, self.log)
        self.rpc_url = self.process.rpc_url

    def restart(self) -> None:
        self.process = Anvil.start(self.process.port, self.state, self.log)

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilChain, Deployment]]:
    chain = AnvilChain(tmp_path_factory.mktemp("anvil"))
    try:
        # four founders: the real calibration has its own test (test_calibration_vllm)
        yield chain, asyncio.run(deploy_on(chain.rpc_url, ChainParams(genesis_seats=4)))
    finally:
        chain.stop()


@pytest.fixture(scope="module")
def nodes(vllm_server, anvil, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("nodes")
    ports = [free_port() for _ in range(4)]
    accounts = [create_keystore(home / f"n{i}" / "key.json", PASSWORD, 2**10) for i in range(4)]
    chain, deployment = anvil
    for account in accounts:
        asyncio.run(fund(chain.rpc_url, account.address, 10 * 10**18))
    for i, port in enumerate(ports):
        (home / f"n{i}" / "node.toml").write_text(
            f"[server]\nport = {port}\n"
            f'[inference]\nbackend = "openai"\nbase_url = "{vllm_server.base_url}"\n'
            f'served_name = "smollm2-135m"\n'
            f"[sampling]\ntemperature = {0.3 + 0.2 * i}\nseed = {i}\nmax_tokens = 160\n"
            f"[round]\nanswer_timeout = 120\n"
            f'[chain]\nrpc_url = "{chain.rpc_url}"\ncontract = "{deployment.contract}"\n'
            "batch_rounds = 1\nbatch_seconds = 2\nrefresh_seconds = 1\nretry_seconds = 2\n"
        )
    procs: list[Proc] = []
    try:
        for i in range(4):
            procs.append(
                start(
                    [
                        "-m",
                        "node.cli",
                        "node",
                        "run",
                        "--config",
                        str(home / f"n{i}" / "node.toml"),
                    ],
                    home / f"n{i}.log",
                    env={"SWARM_KEY_PASSWORD": PASSWORD},
                )
            )
        for proc, port in zip(procs, ports, strict=True):
            wait_http(f"http://127.0.0.1:{port}/health", proc, timeout=60)
        deadline = time.monotonic() + 60
        for port in ports:  # every node found the other three in the registry
            while httpx.get(f"http://127.0.0.1:{port}/health").json()["peers"]["known"] < 3:
                assert time.monotonic() < deadline, "peers not found in the registry"
                time.sleep(0.2)
        yield home, ports, accounts, procs
    finally:
        for proc in procs:
            proc.stop()


def _announces(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            return int(
                conn.execute("SELECT count(*) FROM messages WHERE type = 'announce'").fetchone()[0]
            )
        except sqlite3.OperationalError:
            return 0


def _ask(port: int, question: str) -> SwarmReply:
    resp = httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        timeout=300,
        json={
            "model": "swarm",
            "max_tokens": 24,
            "messages": [{"role": "user", "content": question}],
        },
    )
    assert resp.status_code == 200, resp.text
    return SwarmReply.model_validate(resp.json()["swarm"])


@pytest.fixture(scope="module")
def round_on_n1(nodes) -> SwarmReply:
    """A round coordinated by node n1 (each test that reads it can run on its own)."""
    return _ask(nodes[1][1], "Name a fruit and say why you like it.")


def _chain_tables(db: Path) -> tuple[dict[str, int], list[dict]]:
    """A node's outbox (count by status) and batches, read from its log."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        outbox = dict(conn.execute("SELECT status, count(*) FROM outbox GROUP BY status"))
        rows = [dict(r) for r in conn.execute("SELECT * FROM batches ORDER BY batch")]
    return outbox, rows


def _all_on_chain(dbs: list[Path], timeout: float) -> list[tuple[dict[str, int], list[dict]]]:
    """Wait until every node's outbox is drained and each of its batches is committed
    and settled; the nodes' chain tables then."""
    deadline = time.monotonic() + timeout
    while True:
        tables = [_chain_tables(db) for db in dbs]
        if all(
            set(outbox) == {"done"}
            and all(b["committed_block"] is not None and b["settlement"] for b in rows)
            for outbox, rows in tables
        ):
            return tables
        assert time.monotonic() < deadline, f"not all on chain: {tables}"
        time.sleep(0.5)


def test_separate_processes_with_the_openai_backend(nodes, round_on_n1) -> None:
    home, ports, _accounts, _ = nodes
    info = httpx.get(f"http://127.0.0.1:{ports[1]}/swarm/v1/info").json()
    assert info["backend"] == "openai" and info["model"] == "smollm2-135m"
    swarm = round_on_n1
    assert len({n for c in swarm.candidates for n in c.nodes}) == 4
    assert not swarm.left_out
    log = ConsensusLog(home / "n1" / "consensus.db")
    answers = [e for e in log.entries(swarm.round_id) if e.type == "answer"]
    assert len(answers) == 4 and all('"token_ids":[' in e.raw for e in answers)
    assert verify_log(log) > 0
    log.close()
    assert swarm.winner.verification == "passed"


async def test_rounds_are_committed_on_chain_and_provable(nodes, anvil, round_on_n1) -> None:
    home, ports, accounts, _ = nodes
    chain_proc, deployment = anvil
    chain = await Chain.connect(
        AsyncWeb3(AsyncHTTPProvider(chain_proc.rpc_url)), deployment.contract
    )
    members = await chain.members()
    assert {m.node for m in members} == {a.address for a in accounts}
    assert all(m.stake == 10**18 and m.model == "smollm2-135m" for m in members)
    url = f"http://127.0.0.1:{ports[1]}/v1/rounds/{round_on_n1.round_id}"
    deadline = time.monotonic() + 120
    while True:  # batches of one round, committed within seconds
        commitment = httpx.get(url).json()["commitment"]
        if commitment and commitment["committed_block"] is not None:
            break
        assert time.monotonic() < deadline, "the round was never committed"
        await asyncio.sleep(0.5)
    proof = [bytes.fromhex(p[2:]) for p in commitment["proof"]]
    digest = bytes.fromhex(commitment["result_digest"][2:])
    assert await chain.proves(accounts[1].address, commitment["batch"], digest, proof)
    # every committed root in n1's log is the root on chain
    with sqlite3.connect(f"file:{home / 'n1' / 'consensus.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT batch, root FROM batches WHERE committed_block IS NOT NULL"
        ).fetchall()
    assert rows
    for batch, root in rows:
        assert await chain.root(accounts[1].address, batch) == bytes.fromhex(root[2:])
    await chain.close()


def test_swarm_verify_rechecks_a_logged_answer(nodes, vllm_server, round_on_n1) -> None:
    home, _ports, _accounts, _ = nodes
    db = home / "n1" / "consensus.db"
    round_id = round_on_n1.round_id
    cli = [
        sys.executable,
        "-m",
        "node.cli",
        "verify",
        "--db",
        str(db),
        "--backend",
        "openai",
        "--base-url",
        vllm_server.base_url,
    ]
    done = subprocess.run([*cli, round_id, "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["passed"] and [r["method"] for r in report["results"]] == [
        "teacher_forced",
        "reexecution",
    ]
    unknown = subprocess.run([*cli, "0x" + "12" * 32], capture_output=True, text=True, timeout=300)
    assert unknown.returncode == 1 and "unknown round" in unknown.stderr
    assert "Traceback" not in unknown.stderr


async def test_rounds_go_on_while_anvil_is_down_and_every_write_lands_once(
    nodes, anvil, round_on_n1
) -> None:
    home, ports, accounts, _ = nodes
    chain_proc, deployment = anvil
    dbs = [home / f"n{i}" / "consensus.db" for i in range(4)]
    _all_on_chain(dbs, 180)  # what came before is on chain

    chain_proc.stop()  # anvil writes its state and exits
    questions = {0: "Name a colour of the sea.", 2: "Name a bird that swims."}
    with ThreadPoolExecutor(len(questions)) as pool:
        asked = pool.map(_ask, [ports[i] for i in questions], questions.values())
        replies = dict(zip(questions, asked, strict=True))
    for reply in replies.values():  # the rounds went on without the chain
        assert len({n for c in reply.candidates for n in c.nodes}) == 4
    deadline = time.monotonic() + 60
    while True:  # their batches are made, and their commits wait in the outbox
        tables = {i: _chain_tables(dbs[i]) for i in questions}
        if all(
            outbox.get("pending", 0) + outbox.get("sent", 0) > 0
            and any(b["committed_block"] is None for b in rows)
            for outbox, rows in tables.values()
        ):
            break
        assert time.monotonic() < deadline, f"no batch waiting for the chain: {tables}"
        await asyncio.sleep(0.5)
    await asyncio.sleep(3)  # the outboxes try and fail at least once more

    chain_proc.restart()  # from the saved state, on the same port
    tables = _all_on_chain(dbs, 240)
    chain = await Chain.connect(
        AsyncWeb3(AsyncHTTPProvider(chain_proc.rpc_url)), deployment.contract
    )
    for i, reply in replies.items():  # each round of the outage is provable on chain
        commitment = httpx.get(f"http://127.0.0.1:{ports[i]}/v1/rounds/{reply.round_id}").json()[
            "commitment"
        ]
        proof = [bytes.fromhex(p[2:]) for p in commitment["proof"]]
        digest = bytes.fromhex(commitment["result_digest"][2:])
        assert await chain.proves(accounts[i].address, commitment["batch"], digest, proof)

    # exactly once: one Committed event per logged batch, with its root; one Settled
    # event per logged settlement; the reputation changes on chain are the logged ones
    logged = {
        (account.address.lower(), b["batch"]): (b["root"], json.loads(b["settlement"]))
        for account, (_, rows) in zip(accounts, tables, strict=True)
        for b in rows
    }
    committed = [e["args"] for e in await chain.events("Committed")]
    assert sorted((e["node"].lower(), e["batch"]) for e in committed) == sorted(logged)
    assert all(
        logged[e["node"].lower(), e["batch"]][0][2:] == bytes(e["root"]).hex() for e in committed
    )
    settled = [e["args"] for e in await chain.events("Settled")]
    assert sorted((e["committer"].lower(), e["batch"]) for e in settled) == sorted(
        key for key, (_, record) in logged.items() if "signers" in record
    )
    expected: dict[str, int] = {}
    for _, record in logged.values():
        for node, delta in record.get("changes", []):
            expected[node.lower()] = expected.get(node.lower(), 0) + int(delta)
    changes = [e["args"] for e in await chain.events("ReputationChanged")]
    assert len({(e["committer"], e["batch"], e["node"]) for e in changes}) == len(changes)
    applied: dict[str, int] = {}
    for e in changes:
        applied[e["node"].lower()] = applied.get(e["node"].lower(), 0) + e["delta"]
    assert applied == expected and expected  # the rounds' winners gained, once
    for member in await chain.members():
        assert member.reputation == ChainParams().initial_reputation + expected.get(
            member.node.lower(), 0
        )
    await chain.close()


def test_every_nodes_log_audits_clean_against_anvil(nodes, anvil) -> None:
    """`swarm audit` on each node's log, against the anvil chain, after rounds on
    three coordinators, an outage of the chain and every batch settled: clean."""
    home, _ports, accounts, _ = nodes
    chain_proc, deployment = anvil
    dbs = [home / f"n{i}" / "consensus.db" for i in range(4)]
    _all_on_chain(dbs, 240)
    for i, db in enumerate(dbs):
        summary = audit_clean(db, "--rpc", chain_proc.rpc_url, "--registry", deployment.contract)
        assert summary["owner"] == accounts[i].address
        assert summary["chain"] == deployment.contract
        assert summary["rounds"] >= (1 if i < 3 else 0), summary


def test_a_node_killed_mid_round_is_left_out_and_the_round_completes(nodes) -> None:
    home, ports, accounts, procs = nodes
    victim_db = home / "n3" / "consensus.db"
    seen = _announces(victim_db)
    deadline = time.monotonic() + 60
    while httpx.get(f"http://127.0.0.1:{ports[0]}/health").json()["peers"]["healthy"] < 3:
        assert time.monotonic() < deadline, "the coordinator never saw all its peers healthy"
        time.sleep(0.5)
    result: dict = {}

    def ask() -> None:
        result["resp"] = httpx.post(
            f"http://127.0.0.1:{ports[0]}/v1/chat/completions",
            timeout=600,
            json={
                "model": "swarm",
                "max_tokens": 160,
                "messages": [
                    {"role": "user", "content": "Write a long story about a lighthouse keeper."}
                ],
            },
        )

    thread = threading.Thread(target=ask)
    thread.start()
    deadline = time.monotonic() + 60
    while _announces(victim_db) == seen:  # the victim has the announcement: mid-round
        assert time.monotonic() < deadline, (
            "the victim never received the round; the coordinator's view: "
            + httpx.get(f"http://127.0.0.1:{ports[0]}/health").text
        )
        time.sleep(0.05)
    procs[3].kill()
    thread.join(600)
    resp = result["resp"]
    assert resp.status_code == 200, resp.text
    swarm = SwarmReply.model_validate(resp.json()["swarm"])
    victim = accounts[3].address
    assert victim in {x.node for x in swarm.left_out}
    assert victim not in {n for c in swarm.candidates for n in c.nodes}
    assert victim not in {j.node for j in swarm.judges}
    assert len({n for c in swarm.candidates for n in c.nodes}) == 3
    assert resp.json()["choices"][0]["message"]["content"]
