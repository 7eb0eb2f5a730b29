"""Session fixtures: the real model, a real local swarm, a real vLLM OpenAI server.

Each engine-backed fixture is module-scoped so that only one engine runs at a
time on a 2-core machine; each stops every process it started.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.inference.store import pull
from tests.procs import Proc, free_port, running


@pytest.fixture(scope="session")
def model_dir() -> Path:
    path, _ = pull("smollm2-135m")  # no-op when the setup already pulled it
    return path


@dataclass
class LocalSwarmProc:
    proc: Proc
    url: str
    data_dir: Path


@pytest.fixture(scope="module")
def swarm3(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSwarmProc]:
    """`swarm up --nodes 3` as its own process (vLLM engine in process)."""
    home = tmp_path_factory.mktemp("swarm3")
    port = free_port()
    args = [
        "-m",
        "node.cli",
        "up",
        "--nodes",
        "3",
        "--port",
        str(port),
        "--max-tokens",
        "48",
        "--data-dir",
        str(home / "data"),
        "--no-pull",
    ]
    url = f"http://127.0.0.1:{port}"
    env = {"SWARM_ROUND__TIMEOUT_FLOOR": "45"}  # `swarm up` reads the environment too
    with running(args, home / "swarm.log", url + "/health", env=env, marker="endpoint:") as proc:
        yield LocalSwarmProc(proc, url, home / "data")


@dataclass
class VLLMServer:
    proc: Proc
    base_url: str


@contextmanager
def vllm_server_at(model: Path, home: Path, *extra: str) -> Iterator[VLLMServer]:
    """vLLM's own OpenAI-compatible server for `model`, serving it as `smollm2-135m`
    (its `vllm serve` entry point fails on CPU)."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(model),
        "--served-model-name",
        "smollm2-135m",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--enforce-eager",
        "--max-model-len",
        "2048",
        "--disable-log-stats",
        # CPU: no chunked prefill (see node/inference/device.py for the seeded-request crash).
        "--no-enable-chunked-prefill",
        "--max-num-batched-tokens",
        "8192",
        *extra,
    ]
    url = f"http://127.0.0.1:{port}"
    with running(
        args, home / "server.log", url + "/health", env={"VLLM_CPU_KVCACHE_SPACE": "1"}
    ) as proc:
        yield VLLMServer(proc, url + "/v1")


@pytest.fixture(scope="module")
def vllm_server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VLLMServer]:
    with vllm_server_at(model_dir, tmp_path_factory.mktemp("vllm-server")) as server:
        yield server
