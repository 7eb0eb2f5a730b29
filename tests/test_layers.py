"""Imports point one way (docs/architecture.md): a package may import only those below it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {"swarm_errors", "ranking", "verification", "reputation", "contracts", "node"}
ALLOWED = {
    "ranking": {"swarm_errors"},
    "verification": {"swarm_errors"},
    "contracts": {"swarm_errors"},
    # the audit re-runs the verification policy and answer grouping on logged votes
    "reputation": {"swarm_errors", "ranking", "contracts", "verification"},
}


def imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_what_is_below_it(package: str) -> None:
    for path in sorted((ROOT / package).rglob("*.py")):
        wrong = imported(path) - ALLOWED[package] - {package}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_root_imports_nothing_of_ours() -> None:
    assert imported(ROOT / "swarm_errors.py") == set()
