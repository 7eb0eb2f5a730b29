"""`swarm audit`, `swarm log export` and `swarm log browse` as a user runs them:
separate processes on a real log, a live node's export over loopback HTTP, and
Datasette serving the log."""

import asyncio
import json
import sys
from typing import Any

import aiohttp

from reputation.audit import audit_log
from reputation.export import import_lines
from tests.procs import free_port
from tests.reputation.audit.conftest import TOKEN
from tests.reputation.audit.tamper import edit, entries

SWARM = [sys.executable, "-m", "node.cli"]


async def swarm(*args: str, timeout: float = 300) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *SWARM, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_the_command_exits_0_on_a_clean_log_and_1_on_a_tampered_one(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    code, out, err = await swarm("audit", "--db", str(db), "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["clean"] and summary["rounds"] == len(logged.round_ids)
    rid = logged.round_ids[7]
    (seq, _), *_ = entries(db, "verdict", rid)
    edit(db, seq, lambda m: m["payload"]["verdicts"][0].update(mass=0.01))
    report = tmp_path / "report.html"
    code, out, err = await swarm("audit", "--db", str(db), "--report", str(report))
    assert code == 1, err
    assert f"round {rid}, entry {seq}" in out and "[signature]" in out
    assert report.exists() and rid in report.read_text()
    assert "Traceback" not in err


async def test_bad_input_gets_a_clear_error_and_exit_2(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    for args, says in (
        (["--db", str(tmp_path / "missing.db")], "no consensus log"),
        (["--db", str(db), "--rpc", "http://127.0.0.1:9"], "--rpc and --registry go together"),
        ([], "give one of --db"),
        (["--db", str(db), "--from", "last tuesday"], "ISO 8601"),
        (["--db", str(db), "--owner", "0xnot-an-address"], "is not an address"),
        (["--url", logged.swarm.nodes[0].url, "--token", "wrong"], "401"),
        (["--url", f"http://127.0.0.1:{free_port()}"], "cannot read the log"),
    ):
        code, _, err = await swarm("audit", *args)
        assert code == 2 and says in err and "Traceback" not in err, (args, err)


async def test_a_live_node_is_audited_through_its_authenticated_export(logged, tmp_path) -> None:
    url = logged.swarm.nodes[0].url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/swarm/v1/log/export") as r:
            assert r.status == 401 and (await r.json())["error"]["code"] == "unauthorized"
        other = logged.swarm.nodes[1].url  # same token: every node of this swarm exports
        async with session.get(
            f"{other}/swarm/v1/log/export", headers={"Authorization": "Bearer nope"}
        ) as r:
            assert r.status == 401
    code, out, err = await swarm("audit", "--url", url, "--token", TOKEN, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["clean"] and summary["rounds"] == len(logged.round_ids)
    assert summary["owner"] == logged.owner


async def test_an_export_imports_to_the_same_log_and_an_edit_in_it_is_found(
    logged, tmp_path
) -> None:
    db = logged.copy(tmp_path)
    out = tmp_path / "log.jsonl"
    code, _, err = await swarm("log", "export", "--db", str(db), "--out", str(out))
    assert code == 0, err
    lines = out.read_text().splitlines()
    log = import_lines(lines, tmp_path / "imported.db")
    try:
        report = audit_log(log)
    finally:
        log.close()
    assert report.clean and len(report.rounds) == len(logged.round_ids)
    forged, changed = [], 0
    for line in lines:  # the first verdict's first p_first, edited in the export
        item = json.loads(line)
        row = item.get("row", {})
        if not changed and item.get("table") == "messages" and row["type"] == "verdict":
            message = json.loads(row["raw"])
            v = message["payload"]["verdicts"][0]
            v["p_first"] = 1.0 if v["p_first"] < 0.5 else 0.0
            row["raw"] = json.dumps(message, sort_keys=True, separators=(",", ":"))
            changed += 1
        forged.append(json.dumps(item))
    assert changed == 1
    log = import_lines(forged, tmp_path / "forged.db")
    try:
        assert not audit_log(log).clean
    finally:
        log.close()


async def test_the_log_opens_in_datasette_with_its_canned_queries(logged, tmp_path) -> None:
    db = logged.copy(tmp_path)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *SWARM,
        "log",
        "browse",
        "--db",
        str(db),
        "--port",
        str(port),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/{db.stem}"
    rid = logged.round_ids[0]
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{base}.json") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert proc.returncode is None, "datasette exited"
                await asyncio.sleep(0.1)

            async def rows(path: str) -> list[dict[str, Any]]:
                async with session.get(f"{base}/{path}") as r:
                    assert r.status == 200, await r.text()
                    return list(await r.json())

            winners = await rows("rounds_with_winners.json?_shape=array")
            assert {w["round_id"] for w in winners} == set(logged.round_ids)
            assert all(w["winner"] and w["result_digest"] for w in winners)
            verdicts = await rows(f"round_verdicts.json?round_id={rid}&_shape=array")
            assert verdicts and {v["round_id"] for v in verdicts} == {rid}
            candidates = await rows(f"round_candidates.json?round_id={rid}&_shape=array")
            assert sum(c["won"] for c in candidates) == 1
            history = await rows(f"node_history.json?node={logged.owner.lower()}&_shape=array")
            assert {h["type"] for h in history} >= {"announce", "result", "epoch"}
            view = await rows("round_winners.json?_shape=array")  # the view itself
            assert len(view) == len(logged.round_ids)
    finally:
        proc.terminate()
        await proc.wait()
