"""The log's readers of raw messages (the records and topics a node and the audit
rebuild, the round questions of `reputation.queries`) skip what they cannot read:
a raw nested 100,000 deep (a C stack overflow in `json.loads`, so run in a process
of its own), text that is not UTF-8 (which Python's sqlite3 cannot fetch), turns
that are not text."""

import subprocess
import sys
import textwrap

OWNER = "0x" + "ab" * 20
RID = "0x" + "11" * 32

SCRIPT = textwrap.dedent(
    f"""
    import eth_account, json, sqlite3, sys
    from reputation.log import ConsensusLog
    from reputation.queries import round_messages
    path = sys.argv[1]
    log = ConsensusLog(path)

    def put(kind, i, payload):
        return log.append({{"type": kind, "round_id": "{RID}", "sender": "{OWNER}",
                           "timestamp": i, "payload": payload, "signature": "0x"}}).seq

    turns = [{{"role": "user", "content": "hello"}}]
    judge = {{"node": "{OWNER}", "verdicts": 1, "reliability": 0.9, "agreed": 1.0,
              "disagreed": 0.0}}
    good = [put("announce", 1, {{"messages": turns}}), put("result", 2, {{"judges": [judge]}})]
    bad = [put("announce", i, {{"messages": turns, "i": i}}) for i in (3, 4, 5)]
    bad += [put("result", i, {{"judges": [judge], "i": i}}) for i in (6, 7)]
    log.close()
    with sqlite3.connect(path) as conn:
        nested = "[" * 100_000
        conn.execute("UPDATE messages SET raw = ? WHERE seq IN (?, ?)", [nested, bad[0], bad[3]])
        conn.execute("UPDATE messages SET raw = CAST(X'7bff' AS TEXT) WHERE seq IN (?, ?)",
                     [bad[1], bad[4]])
        conn.execute("UPDATE messages SET raw = ? WHERE seq = ?", [json.dumps(
            {{"payload": {{"messages": [1, 2]}}}}), bad[2]])
    log = ConsensusLog(path, readonly=True)
    print(json.dumps({{
        "prompts": len(log.recent_prompts(10)),
        "history": len(log.judge_history(10, "{OWNER}")),
        "announces": len(round_messages(log, "{RID}", "announce")),
    }}))
    """
)


def test_unreadable_raw_messages_are_skipped_not_fatal(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "log.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    # the records read only the well-formed announcement and result (the questions of
    # a round also the JSON object whose turns are not text); nothing crashed
    assert proc.stdout.strip().splitlines()[-1] == '{"prompts": 1, "history": 1, "announces": 2}'
