"""A scripted local swarm as its own process, with extra (hostile) peers: for tests whose
failure mode is the process dying (a nested body overflowing the C stack), so that a
crash is a dead child, not a dead pytest.

    python -m tests.hostile_swarm DATA_DIR [--peer ADDRESS=URL ...]

Two scripted nodes (the `tests.scripted` STAND-IN engine), chain off, each knowing the
other and every `--peer`; prints one line `ready {"urls": [...]}` and serves until
SIGTERM.
"""

import argparse
import asyncio
import json
import signal
from pathlib import Path

from node.config import load_config
from node.local import start_local_swarm
from tests.scripted import ScriptedBackend, ScriptedModel


async def main(data_dir: Path, peers: list[tuple[str, str]]) -> None:
    model = ScriptedModel()
    backends = [ScriptedBackend(model, text) for text in ("Rivers run to the sea.", "Downhill.")]
    base = load_config(None, env={}, overrides={"chain": {"enabled": False}})
    swarm = await start_local_swarm(len(backends), 0, data_dir, base, backends)
    for node in swarm.nodes:
        others = [(n.ctx.address, n.url) for n in swarm.nodes if n is not node]
        node.ctx.peers.set_remotes(others + peers)
    print("ready " + json.dumps({"urls": [n.url for n in swarm.nodes]}), flush=True)
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, done.set)
    await done.wait()
    await swarm.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--peer", action="append", default=[], help="ADDRESS=URL")
    args = parser.parse_args()
    asyncio.run(main(args.data_dir, [tuple(p.split("=", 1)) for p in args.peer]))
