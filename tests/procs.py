"""Real processes for integration tests: started on loopback, stopped by PID."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Proc", "audit_clean", "free_port", "running", "start", "wait_http", "wait_line"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None):
        self.log_path = log
        self.log = log.open("w")
        self.popen = subprocess.Popen(
            args,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the process group at once (a node that dies mid-round)."""
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait()

    def stop(self, grace: float = 20.0) -> None:
        if self.popen.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        # vLLM's engine processes share the group; make sure none outlives the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.log.close()


def start(args: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    return Proc([sys.executable, *args], log, env)


def wait_http(url: str, proc: Proc, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{proc.output()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} not up after {timeout} s:\n{proc.output()[-3000:]}")


def wait_line(proc: Proc, marker: str, timeout: float = 300.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.output().splitlines():
            if marker in line:
                return line
        if proc.popen.poll() is not None:
            raise RuntimeError(f"process exited early:\n{proc.output()[-3000:]}")
        time.sleep(1)
    raise TimeoutError(f"no '{marker}' after {timeout} s:\n{proc.output()[-3000:]}")


@contextmanager
def running(
    args: list[str],
    log: Path,
    health_url: str,
    env: dict[str, str] | None = None,
    marker: str | None = None,
) -> Iterator[Proc]:
    """Start a process, wait until `marker` is printed (if given) and `health_url`
    answers 200 (a node answers 503 "starting" until a round can run, and `swarm up`
    prints its `endpoint:` line only once every node is ready), and stop the process
    (and its group) on exit."""
    proc = start(args, log, env)
    try:
        if marker:
            wait_line(proc, marker)
        wait_http(health_url, proc)
        yield proc
    finally:
        proc.stop()


def audit_clean(db: Path, *chain: str) -> dict[str, Any]:
    """`swarm audit --json` of `db` as a process (with `chain`'s options: `--rpc … --registry
    …` or `--local-chain …`): asserts it exits 0 clean with nothing unchecked; its summary."""
    done = subprocess.run(
        [sys.executable, "-m", "node.cli", "audit", "--json", "--db", str(db), *chain],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    assert summary["clean"] and summary["chain"] and not summary["unchecked"], summary
    return summary
