"""Fuzz: property-based requests from the node's own OpenAPI document against a live
`swarm up` (real engine), counted per route: crashes, 5xx, answers outside the one
error shape.

It starts `swarm up --nodes 3` and reads `GET /openapi.json` from node 0. Hypothesis
then draws, per request, a route of the document and one of these inputs:

- `schema`: a body generated from the route's request schema (hypothesis-jsonschema);
  for a peer route (a signed envelope) the generated payload is signed again, as
  itself a valid message: by a registered node of the swarm (its key from the data
  dir: signed-but-wrong peer messages from a member) or by a fresh key;
- `mutated`: a schema body with one field replaced by any JSON value;
- `json`: any JSON value;
- `bytes`: random bytes, or a truncated schema body;
- `hostile`: deeply nested, oversized or numerically extreme JSON;
- for GET routes: random path parameters and query strings.

A request passes when the node answers it (no connection failure: the process
alive), with a status below 500, and every 4xx body is `{"error": {"message",
"type", "code"}}`; a 2xx JSON route answers JSON. Hypothesis runs it as one
property test with `max_examples` requests and no shrinking, so all are sent; every
failure is counted, not raised. Traffic goes to 127.0.0.1 only; the run is bounded
by its request count and per-request timeouts.

    python benchmarks/fuzz.py [--requests 10000] [--seed 0] [--write]

`--write` replaces the "Fuzz" section of benchmarks/RESULTS.md.
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from results import machine_line, write_section

from node.identity import load_keystore
from node.local import LOCAL_PASSWORD
from reputation.envelope import sign_envelope

KINDS = ["schema", "schema", "mutated", "json", "bytes", "hostile"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


class Tally:
    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.crashes: Counter[str] = Counter()
        self.server_errors: Counter[str] = Counter()
        self.bad_shape: Counter[str] = Counter()
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)
        self.examples: list[str] = []

    def note(self, route: str, what: Counter[str], example: str) -> None:
        what[route] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{route}: {example}"[:300])


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A route's schema with the document's definitions beside it, so that its local
    `$ref`s (`#/components/...` or `#/$defs/...`) resolve."""
    return {**schema, **{k: doc[k] for k in ("components", "$defs") if k in doc}}


def _routes(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    out = []
    for path, item in sorted(doc["paths"].items()):
        for method, op in sorted(item.items()):
            if method not in ("get", "post"):
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            out.append((method, path, _resolve(doc, body["schema"]) if body else None))
    return out


def _is_envelope(body: Any) -> bool:
    return isinstance(body, dict) and {"type", "payload", "signature"} <= set(body)


def _resign(body: dict[str, Any], account: Any) -> dict[str, Any]:
    payload = body["payload"] if isinstance(body["payload"], dict) else {}
    round_id = body.get("round_id")
    round_id = round_id if isinstance(round_id, str) or round_id is None else None
    return sign_envelope(account, str(body["type"]), round_id, payload)


def _hostile(draw: Any) -> bytes:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        depth = draw(st.integers(30, 300_000))
        return b"[" * depth + b"]" * depth
    if choice == 1:
        return (
            b'{"model": "swarm", "messages": [{"role": "user", "content": "'
            + (b"a" * draw(st.integers(900_000, 1_100_000)))
            + b'"}]}'
        )
    if choice == 2:
        return b'{"a":' * draw(st.integers(30, 50_000)) + b"1" + b"}" * 50_000
    if choice == 3:
        return json.dumps({"model": "swarm", "max_tokens": 10**30, "temperature": 1e308}).encode()
    return b'{"model": "swarm", "messages": ' + b"[" * 40 + b"]" * 40 + b"}"


def _path(path: str, draw: Any) -> str:
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = draw(st.sampled_from(["0x" + "ab" * 32, "0x12", "%3Cscript%3E", "x" * 300, "-1"]))
        path = path[:start] + value + path[end + 1 :]
    query = draw(st.sampled_from(["", "?a=1", "?round_id=%00", "?" + "x=" * 200]))
    return path + query


def _check(tally: Tally, route: str, response: httpx.Response, json_route: bool) -> None:
    tally.statuses[route][response.status_code] += 1
    if response.status_code >= 500:
        tally.note(route, tally.server_errors, f"{response.status_code} {response.text[:200]}")
        return
    if response.status_code >= 400:
        try:
            body = response.json()
            error = body["error"]
            good = set(body) == {"error"} and all(
                isinstance(error.get(k), str) for k in ("message", "type", "code")
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            good = False
        if not good:
            tally.note(route, tally.bad_shape, f"{response.status_code} {response.text[:200]}")
        return
    if json_route:
        try:
            response.json()
        except ValueError:
            tally.note(route, tally.bad_shape, f"{response.status_code} not JSON")


def fuzz(url: str, doc: dict[str, Any], members: list[Any], requests: int, base: int) -> Tally:
    tally = Tally()
    routes = _routes(doc)
    strangers = [Account.create() for _ in range(2)]
    strategies = {p: from_schema(s) for m, p, s in routes if s is not None}
    client = httpx.Client(base_url=url, timeout=httpx.Timeout(120.0, connect=5.0))

    @seed(base)
    @settings(
        max_examples=requests,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def one(data: Any) -> None:
        method, path, schema = data.draw(st.sampled_from(routes))
        route = f"{method.upper()} {path}"
        tally.sent[route] += 1
        json_route = not path.startswith("/metrics")
        try:
            if method == "get":
                response = client.get(_path(path, data.draw))
                _check(tally, route, response, json_route)
                return
            kind = data.draw(st.sampled_from(KINDS))
            raw: bytes
            if kind in ("schema", "mutated") and schema is not None:
                body = data.draw(strategies[path])
                if _is_envelope(body) and data.draw(st.booleans()):
                    signer = data.draw(st.sampled_from(members + strangers))
                    body = _resign(body, signer)
                if kind == "mutated" and isinstance(body, dict) and body:
                    key = data.draw(st.sampled_from(sorted(body)))
                    body = {**body, key: data.draw(JSON)}
                raw = json.dumps(body).encode()
            elif kind == "json":
                raw = json.dumps(data.draw(JSON)).encode()
            elif kind == "bytes":
                raw = data.draw(st.binary(max_size=512))
            else:
                raw = _hostile(data.draw)
            headers = {"Content-Type": "application/json"}
            _check(tally, route, client.post(path, content=raw, headers=headers), json_route)
        except httpx.TransportError as exc:
            tally.note(route, tally.crashes, f"{type(exc).__name__}: {exc}")
            time.sleep(1)

    try:
        one()
    finally:
        client.close()
    return tally


def _table(tally: Tally) -> str:
    rows = [
        "| route | requests | crashes | 5xx | outside the error shape | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for route in sorted(tally.sent):
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses[route].items()))
        rows.append(
            f"| `{route}` | {tally.sent[route]} | {tally.crashes[route]} "
            f"| {tally.server_errors[route]} | {tally.bad_shape[route]} | {statuses} |"
        )
    rows.append(
        f"| **all** | **{sum(tally.sent.values())}** | **{sum(tally.crashes.values())}** "
        f"| **{sum(tally.server_errors.values())}** | **{sum(tally.bad_shape.values())}** | |"
    )
    return "\n".join(rows)


def main(args: argparse.Namespace) -> None:
    random.seed(args.seed)
    home = Path(tempfile.mkdtemp(prefix="swarm-fuzz-"))
    url = f"http://127.0.0.1:{args.port}"
    log = home / "swarm.log"
    command = [sys.executable, "-m", "node.cli", "up", "--nodes", "3", "--port", str(args.port)]
    command += ["--max-tokens", "8", "--data-dir", str(home / "data"), "--no-pull"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        while "endpoint:" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError("swarm up did not start:\n" + log.read_text()[-3000:])
            time.sleep(1)
        doc = httpx.get(url + "/openapi.json", timeout=10).json()
        members = [
            load_keystore(home / "data" / f"node-{i}" / "key.json", LOCAL_PASSWORD)
            for i in range(3)
        ]
        t0 = time.monotonic()
        tally = fuzz(url, doc, members, args.requests, args.seed)
        took = time.monotonic() - t0
        alive = proc.poll() is None
        health = httpx.get(url + "/health", timeout=10).status_code if alive else None
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    tracebacks = log.read_text(errors="replace").count("Traceback")
    body = "\n\n".join(
        [
            f"Measured by `benchmarks/fuzz.py` (`--requests {args.requests} --seed {args.seed}`).",
            f"{sum(tally.sent.values())} generated requests in {took:.0f} s against "
            "`swarm up --nodes 3` (SmolLM2-135M, max_tokens 8), drawn from the node's "
            "`/openapi.json`: schema bodies (peer messages re-signed by a member or a fresh "
            "key), mutated, arbitrary JSON, bytes, nested or oversized bodies, odd paths.",
            _table(tally),
            f"After the run: the process {'alive' if alive else 'DEAD'}, `/health` {health}; "
            f"tracebacks in its log: {tracebacks}. Goal: 0 crashes, 0 5xx, 0 outside the "
            "error shape.",
            *(
                ["First failures:\n\n" + "\n".join(f"- `{e}`" for e in tally.examples)]
                if tally.examples
                else []
            ),
            machine_line(),
        ]
    )
    print(body)
    if args.write:
        write_section("Fuzz", body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--port", type=int, default=18800)
    parser.add_argument("--write", action="store_true")
    main(parser.parse_args())
