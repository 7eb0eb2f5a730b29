"""The committed artifact is what the committed sources compile to."""

from contracts.artifacts import compile_contract, load


def test_the_artifact_matches_the_sources() -> None:
    fresh, committed = compile_contract(), load()
    assert committed["compiler"] == fresh["compiler"] == "vyper 0.4.3"
    assert committed["sources_sha256"] == fresh["sources_sha256"], (
        "the sources changed: run `python -m contracts.artifacts`"
    )
    assert committed["abi"] == fresh["abi"]
    assert committed["bytecode"] == fresh["bytecode"]
