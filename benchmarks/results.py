"""Write one benchmark's section into benchmarks/RESULTS.md (replacing an older one).

Every benchmark imports this module first: it puts the project root ahead of this
folder on `sys.path`, because `benchmarks/verification.py` would otherwise shadow the
`verification` package for every script run from here.
"""

import re
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine_line(dtype: str | None = None) -> str:
    """The machine a table was measured on: CPU model, the ISA features that decide CPU
    inference speed, any AVX2-only emulation in force, and the dtype (when one applies)."""
    from node.inference.device import cpu_summary

    text = f"Machine: {cpu_summary()}"
    return text + (f"; dtype {dtype}." if dtype else ".")


def write_section(title: str, body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = f"## {title}\n\n{body.rstrip()}\n"
    pattern = rf"## {re.escape(title)}\n.*?(?=\n## |\Z)"
    if re.search(pattern, text, flags=re.S):
        text = re.sub(pattern, lambda _: section, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)
