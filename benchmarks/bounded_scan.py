"""The bounded JSON reader's depth scan on hostile input: time against size.

`reputation.bounded` scans every untrusted body before `json.loads`. The scan must
be linear on any input, since it runs on the event loop before any deadline or
budget can act: a string that never closes (`"` then `\\"` repeated) once made the
regex engine retry from every later quote (quadratic: 40 KB took 11 s). For each
input kind it times `depth` at n, 2n and 4n bytes and prints the ratios of the
times side by side with `json.loads` of valid JSON of the same size: about 2 and 4
for a linear scan (a quadratic one gives 4 and 16).

    python benchmarks/bounded_scan.py [--size 250000]
"""

import argparse
import json
import time
from collections.abc import Callable

from results import machine_line

from reputation.bounded import depth

KINDS = {
    "unterminated string of escaped quotes": lambda n: b'"' + b'\\"' * (n // 2),
    "nested arrays": lambda n: b"[" * (n // 2) + b"]" * (n // 2),
    "many short strings": lambda n: json.dumps(["ab"] * (n // 5)).encode(),
}


def _seconds(fn: Callable[[bytes], object], data: bytes) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        fn(data)
        best = min(best, time.perf_counter() - t0)
    return best


def main(size: int) -> None:
    print(f"| input | ms at {size} B | ×2 size: time ratio | ×4 size: time ratio |")
    print("|---|---|---|---|")
    rows: list[tuple[str, Callable[[bytes], object], Callable[[int], bytes]]]
    rows = [(k, depth, make) for k, make in KINDS.items()]
    rows.append(("json.loads of valid JSON (reference)", json.loads, KINDS["many short strings"]))
    for label, fn, make in rows:
        base = _seconds(fn, make(size))
        ratios = [_seconds(fn, make(size * m)) / base for m in (2, 4)]
        print(f"| {label} | {1000 * base:.2f} | {ratios[0]:.2f} | {ratios[1]:.2f} |")
    print("\n" + machine_line())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=250_000)
    main(parser.parse_args().size)
