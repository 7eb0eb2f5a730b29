"""The compiled contract, committed next to its sources, and the check that it matches.

`Swarm.json` holds the ABI and deployment bytecode of `Swarm.vy` (with its modules
`registry.vy` and `commitments.vy`) and a header naming the compiler and its
version and the sources' sha256. `python -m contracts.artifacts` rewrites it;
`tests/contracts/test_artifacts.py` recompiles and compares, so the artifact
cannot drift from the sources. Nodes deploy and call the committed artifact and
need no compiler at run time.
"""

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACT", "SOURCES", "compile_contract", "load", "sources_digest"]

HERE = Path(__file__).parent
MAIN = HERE / "Swarm.vy"
SOURCES = (MAIN, HERE / "registry.vy", HERE / "commitments.vy")
ARTIFACT = HERE / "Swarm.json"


def sources_digest() -> str:
    h = hashlib.sha256()
    for path in SOURCES:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compile_contract() -> dict[str, Any]:
    """Compile the sources with the installed vyper (a development dependency)."""
    import vyper
    from vyper.cli.vyper_compile import compile_files

    out = compile_files([str(MAIN)], ("abi", "bytecode"), paths=[str(HERE)])
    (compiled,) = out.values()
    return {
        "compiler": f"vyper {vyper.__version__}",
        "sources": [p.name for p in SOURCES],
        "sources_sha256": sources_digest(),
        "abi": compiled["abi"],
        "bytecode": compiled["bytecode"],
    }


@cache
def load() -> dict[str, Any]:
    """The committed artifact."""
    data: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return data


def main() -> None:
    artifact = compile_contract()
    ARTIFACT.write_text(json.dumps(artifact, indent=1) + "\n")
    print(f"wrote {ARTIFACT} ({artifact['compiler']}, {len(artifact['bytecode']) // 2 - 1} bytes)")


if __name__ == "__main__":
    main()
