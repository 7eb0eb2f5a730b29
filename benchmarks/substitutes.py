"""Cheaper models to serve under SmolLM2's name: the substituted-model scenarios.

Both write a new model directory (config, tokenizer, safetensors) next to no
other state; vLLM serves it like any local model.

- `remove_layers`: keep the first `keep` decoder layers (30 in SmolLM2-135M).
- `perturb`: add Gaussian noise with σ = `scale` × each weight matrix's own std.
"""

import json
import shutil
from pathlib import Path

__all__ = ["perturb", "remove_layers"]

_WEIGHTS = "model.safetensors"


def _copy_dir(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name != _WEIGHTS and item.is_file():
            shutil.copy2(item, dst / item.name)


def remove_layers(src: Path, dst: Path, keep: int) -> Path:
    from safetensors.torch import load_file, save_file

    if (dst / _WEIGHTS).exists():
        return dst
    _copy_dir(src, dst)
    tensors = load_file(str(src / _WEIGHTS))
    kept = {}
    for name, tensor in tensors.items():
        parts = name.split(".")
        if "layers" in parts and int(parts[parts.index("layers") + 1]) >= keep:
            continue
        kept[name] = tensor.contiguous()
    config = json.loads((src / "config.json").read_text())
    config["num_hidden_layers"] = keep
    (dst / "config.json").write_text(json.dumps(config, indent=2))
    save_file(kept, str(dst / _WEIGHTS))
    return dst


def perturb(src: Path, dst: Path, scale: float, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import load_file, save_file

    if (dst / _WEIGHTS).exists():
        return dst
    _copy_dir(src, dst)
    generator = torch.Generator().manual_seed(seed)
    tensors = load_file(str(src / _WEIGHTS))
    out = {}
    for name, tensor in tensors.items():
        if tensor.ndim == 2:
            noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32)
            std = tensor.float().std()
            tensor = (tensor.float() + noise * std * scale).to(tensor.dtype)
        out[name] = tensor.contiguous()
    save_file(out, str(dst / _WEIGHTS))
    return dst
