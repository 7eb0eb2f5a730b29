"""The dtype follows what the CPU computes natively (pure choice; the machine is an input)."""

import pytest

from node.inference.device import choose_dtype, cpu_summary, native_bf16

SAPPHIRE_RAPIDS = {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}
EPYC_ZEN2 = {"avx2", "fma", "sse4_2"}
SKYLAKE_X = {"avx2", "avx512f", "avx512bw"}


@pytest.mark.parametrize(
    ("flags", "env", "dtype"),
    [
        (SAPPHIRE_RAPIDS, {}, "bfloat16"),
        (EPYC_ZEN2, {}, "float32"),
        (SKYLAKE_X, {}, "float32"),  # AVX-512 without its bf16 instructions
        ({"avx2", "avx512_bf16"}, {}, "bfloat16"),
        (SAPPHIRE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "float32"),  # an emulated AVX2 CPU
        (SAPPHIRE_RAPIDS, {"ATEN_CPU_CAPABILITY": "avx2"}, "float32"),
        (SAPPHIRE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX"}, "bfloat16"),
        (SAPPHIRE_RAPIDS, {"ONEDNN_MAX_CPU_ISA": "ALL"}, "bfloat16"),
        (set(), {}, "float32"),  # flags unknown: the safe choice
    ],
)
def test_auto_picks_bf16_only_where_the_cpu_has_it(flags, env, dtype) -> None:
    assert choose_dtype("auto", True, flags, env) == dtype
    assert native_bf16(flags, env) == (dtype == "bfloat16")


def test_an_operator_choice_wins_and_a_gpu_keeps_the_engines_choice() -> None:
    assert choose_dtype("bfloat16", True, EPYC_ZEN2, {}) == "bfloat16"
    assert choose_dtype("float32", True, SAPPHIRE_RAPIDS, {}) == "float32"
    assert choose_dtype("auto", False, set(), {}) == "auto"


def test_the_summary_names_the_isa_and_any_emulation() -> None:
    line = cpu_summary({"ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert "AVX2 " in line and "AVX-512-BF16 " in line and "AMX " in line
    assert "emulating" in line and "ONEDNN_MAX_CPU_ISA=AVX2" in line
    assert "emulating" not in cpu_summary({})
