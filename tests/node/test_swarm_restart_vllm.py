"""The README's first command twice in a row: `swarm up` (what `make up` runs) as a
process with the real engine, a query sent the moment each start prints its
`endpoint:` line, then the logs audited against the saved chain after the stop.

One data dir for both starts (the second finds its keys, logs and chain there);
`--nodes 3`, few tokens, to keep it cheap.
"""

from pathlib import Path

import httpx
import pytest

from tests.node.chain.test_restart import free_ports
from tests.procs import audit_clean, start, wait_line

pytestmark = pytest.mark.engine


def _up_and_ask(data: Path, port: int, log: Path) -> str:
    """Start `swarm up`, query it the moment it says it is ready, stop it; its output."""
    args = ["up", "--nodes", "3", "--port", str(port), "--max-tokens", "16"]
    proc = start(
        ["-m", "node.cli", *args, "--data-dir", str(data), "--no-pull"],
        log,
        env={"SWARM_ROUND__TIMEOUT_FLOOR": "45"},
    )
    try:
        wait_line(proc, "endpoint:", timeout=600)
        reply = httpx.post(  # at once: ready means a round can run
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json={"model": "swarm", "messages": [{"role": "user", "content": "Say hello."}]},
            timeout=600,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["swarm"]["winner"]
    finally:
        proc.stop()
    assert proc.popen.returncode == 0, proc.output()[-3000:]  # a clean stop
    return proc.output()


def test_swarm_up_twice_keeps_its_chain_and_audits_clean(model_dir: Path, tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_ports(3)
    first = _up_and_ask(data, port, tmp_path / "first.log")
    assert "deployed contract" in first and first.count("registered 0x") == 3
    second = _up_and_ask(data, port, tmp_path / "second.log")
    assert "re-using contract" in second
    assert "registered 0x" not in second and "registering anew" not in second
    summary = audit_clean(data / "node-0" / "consensus.db", "--local-chain", str(data))
    assert summary["rounds"] == 2
