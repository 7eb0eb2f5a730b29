"""Untrusted JSON is bounded before it is parsed (`reputation.bounded`)."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reputation.bounded import JsonRefused, JsonTooDeep, JsonTooLarge, depth, loads

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


def nesting(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


@given(values)
def test_the_scan_measures_the_nesting_and_ignores_brackets_in_strings(value: object) -> None:
    raw = json.dumps(value).encode()
    assert depth(raw) == nesting(value)
    assert loads(raw, len(raw), max(1, nesting(value))) == value


def test_too_deep_too_large_and_malformed_are_refused() -> None:
    with pytest.raises(JsonTooDeep):
        loads(b"[" * 33 + b"]" * 33, 10_000, 32)
    assert loads(b"[" * 32 + b"]" * 32, 10_000, 32) is not None
    with pytest.raises(JsonTooLarge):
        loads(b'"' + b"a" * 100 + b'"', 50)
    for bad in (b"{", b"\xff\xfe", b"[1,]", b'"\\'):
        with pytest.raises(JsonRefused):
            loads(bad, 1000)


def test_a_nested_body_that_crashes_json_loads_is_refused_in_the_same_process() -> None:
    """The attack of the review: with eth_account imported (recursion limit 100,000), plain
    json.loads of 100 KB of '[' kills the interpreter; the bounded reader refuses it."""
    code = (
        "import sys, json, eth_account\n"
        "from reputation.bounded import loads, JsonTooDeep\n"
        "raw = b'[' * 200_000\n"
        "try:\n"
        "    loads(raw, 1_000_000)\n"
        "except JsonTooDeep:\n"
        "    print('refused')\n"
        "if sys.argv[1] == 'plain':\n"
        "    json.loads(raw)\n"
    )
    bounded = subprocess.run([sys.executable, "-c", code, "bounded"], capture_output=True)
    assert bounded.returncode == 0 and bounded.stdout.strip() == b"refused"
    plain = subprocess.run([sys.executable, "-c", code, "plain"], capture_output=True)
    assert plain.returncode < 0  # the unbounded parser dies of a signal (SIGSEGV)


def test_unterminated_strings_are_refused_and_hide_no_nesting_from_json() -> None:
    """A string that never closes, with escaped quotes all along, is refused (how long the
    scan takes on it, linear since the closing quote became optional, is measured by
    benchmarks/bounded_scan.py, not here)."""
    with pytest.raises(JsonRefused):
        loads(b'"' + b'\\"' * 5_000, 2_000_000)
    assert depth(b'["a", "b\\"[[[') == 1  # brackets after an unterminated string are hidden
