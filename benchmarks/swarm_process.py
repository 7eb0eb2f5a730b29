"""`swarm up` as a process of its own, for benchmarks that load it from outside.

`swarm_up` starts `python -m node.cli up --nodes N` on loopback in a new data dir,
waits until it prints its endpoint line and `/health` says ok (ready means a round
can run), yields the process and its URL, and stops it (SIGTERM, then SIGKILL).
"""

import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SwarmProcess", "swarm_up"]


@dataclass
class SwarmProcess:
    proc: subprocess.Popen[bytes]
    url: str
    home: Path

    @property
    def log(self) -> str:
        return (self.home / "swarm.log").read_text(errors="replace")


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@contextmanager
def swarm_up(
    port: int, max_tokens: int, nodes: int = 3, timeout: float = 600
) -> Iterator[SwarmProcess]:
    home = Path(tempfile.mkdtemp(prefix="swarm-bench-"))
    command = [sys.executable, "-m", "node.cli", "up", "--nodes", str(nodes)]
    command += ["--port", str(port), "--max-tokens", str(max_tokens)]
    command += ["--data-dir", str(home / "data"), "--no-pull"]
    with (home / "swarm.log").open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    swarm = SwarmProcess(proc, f"http://127.0.0.1:{port}", home)
    try:
        deadline = time.monotonic() + timeout
        while not ("endpoint:" in swarm.log and _ready(swarm.url)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("swarm up did not start:\n" + swarm.log[-3000:])
            time.sleep(1)
        yield swarm
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
