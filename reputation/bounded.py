"""Untrusted JSON, bounded before it is parsed.

Every JSON reader of the project (client bodies, peer messages and replies,
health probes, calibration replies, log exports and the log's own raw columns
in the audit) goes through `loads`, which refuses input over `max_bytes` or
nested deeper than `max_depth` *before* `json.loads` sees it.

Why a scan and not a recursion limit: `eth_account` raises Python's recursion
limit to 100,000, and the C JSON scanner then overflows the C stack on about
100 KB of `[` (SIGSEGV, no handler runs). A lower recursion limit is not a fix
(the process's other code needs the high one, and a C stack overflow is no
exception), so the depth is measured first: string literals are removed by one
regular expression (the C `re` engine, atomic groups and an optional closing
quote: linear on any input), the remaining brackets are counted with numpy's
cumulative sum. On malformed input the scan may miscount (an unterminated string
hides the brackets after it), which only lets through what `json.loads` refuses
anyway.
"""

import json
import re
from typing import Any

import numpy as np

from swarm_errors import SwarmError

__all__ = [
    "MAX_DEPTH",
    "JsonRefused",
    "JsonTooDeep",
    "JsonTooLarge",
    "check_depth",
    "depth",
    "loads",
]

MAX_DEPTH = 32
"""Nesting depth that no message of the protocol comes near (a judge request is 5)."""

_STRING = re.compile(rb'"(?>[^"\\]++|\\.)*+"?', re.DOTALL)
"""A string literal. The closing quote is optional: an unterminated string swallows the
rest in one pass (with a required quote, the engine would try again from every later
quote and the scan would be quadratic in the body's size)."""
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


class JsonRefused(SwarmError, ValueError):
    """Input refused before parsing, or not JSON at all."""

    code = "invalid_json"


class JsonTooLarge(JsonRefused):
    code = "payload_too_large"


class JsonTooDeep(JsonRefused):
    code = "too_deeply_nested"


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in `raw` (strings skipped)."""
    brackets = _STRING.sub(b"", raw).translate(None, _BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    found = depth(raw)
    if found > max_depth:
        raise JsonTooDeep(f"JSON nested {found} deep; the limit is {max_depth}")


def loads(raw: bytes | str, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` of untrusted input, refused (`JsonRefused` and its kinds) when it is
    over `max_bytes`, nested deeper than `max_depth`, not UTF-8 or not JSON."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > max_bytes:
        raise JsonTooLarge(f"JSON of {len(data)} bytes; the limit is {max_bytes}")
    check_depth(data, max_depth)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise JsonRefused(f"malformed JSON: {exc}") from exc
