"""Fuzz: property-based requests from the node's own OpenAPI document against a live
`swarm up` (real engine), counted per route: crashes, 5xx, answers outside the one
error shape.

It starts `swarm up --nodes 3` and reads `GET /openapi.json` from node 0. Hypothesis
then draws, per request, a route of the document and one of these inputs:

- `schema`: a body that fits the route's request schema (schemathesis's positive
  generation); for a peer route (a signed envelope) half of them are signed again,
  so that the signature is valid: by a registered node of the swarm (its key from
  the data dir: signed-but-wrong peer messages from a member) or by a fresh key;
  half of the chat bodies name the model `swarm`, so that they run rounds;
- `negative`: a body that breaks the schema (schemathesis's negative generation);
- `json`: any JSON value;
- `bytes`: random bytes, or a truncated schema body;
- `hostile`: deeply nested, oversized or numerically extreme JSON;
- for GET routes: schema parameters, or odd path parameters and query strings.

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
import time
from collections import Counter, defaultdict
from typing import Any

import httpx
import schemathesis
from eth_account import Account
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from results import machine_line, write_section
from schemathesis import GenerationMode
from swarm_process import swarm_up

from node.identity import load_keystore
from node.local import LOCAL_PASSWORD
from reputation.envelope import sign_envelope

KINDS = ["schema", "schema", "negative", "json", "bytes", "hostile"]
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
    tally.sent[route] += 1
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
    if json_route and response.headers.get("content-type", "").startswith("application/json"):
        try:
            response.json()
        except ValueError:
            tally.note(route, tally.bad_shape, f"{response.status_code} not JSON")
    elif json_route and not response.headers.get("content-type", "").startswith(
        "text/event-stream"
    ):  # a chat request with `stream: true` is answered as server-sent events
        tally.note(route, tally.bad_shape, f"{response.status_code} neither JSON nor SSE")


def _operations(doc: dict[str, Any]) -> list[Any]:
    """The document's operations, as schemathesis reads them."""
    schema = schemathesis.openapi.from_dict(doc)
    return sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: op.label)


def _body(case: Any) -> bytes:
    body = case.body
    if isinstance(body, bytes):
        return body
    if body is None or type(body).__name__ == "NotSet":
        return b""
    return json.dumps(body).encode()


def fuzz(url: str, doc: dict[str, Any], members: list[Any], requests: int, base: int) -> Tally:
    tally = Tally()
    operations = _operations(doc)
    strangers = [Account.create() for _ in range(2)]
    positive = {op.label: op.as_strategy(GenerationMode.POSITIVE) for op in operations}
    negative = {op.label: op.as_strategy(GenerationMode.NEGATIVE) for op in operations}
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
        op = data.draw(st.sampled_from(operations))
        route = op.label
        json_route = op.path != "/metrics"
        try:
            if op.method.upper() == "GET":
                case = data.draw(positive[route])
                path = case.formatted_path
                if "{" in op.path and data.draw(st.booleans()):
                    path = _path(op.path, data.draw)
                response = client.get(path, params=case.query or None)
                _check(tally, route, response, json_route)
                return
            kind = data.draw(st.sampled_from(KINDS))
            raw: bytes
            if kind == "schema":
                body = data.draw(positive[route]).body
                if op.path == "/v1/chat/completions" and data.draw(st.booleans()):
                    body = {**body, "model": "swarm"}  # a round, not only a refusal
                if _is_envelope(body) and data.draw(st.booleans()):
                    body = _resign(body, data.draw(st.sampled_from(members + strangers)))
                raw = json.dumps(body).encode()
            elif kind == "negative":
                raw = _body(data.draw(negative[route]))
            elif kind == "json":
                raw = json.dumps(data.draw(JSON)).encode()
            elif kind == "bytes":
                raw = data.draw(st.binary(max_size=512))
            else:
                raw = _hostile(data.draw)
            headers = {"Content-Type": "application/json"}
            _check(tally, route, client.post(op.path, content=raw, headers=headers), json_route)
        except httpx.TransportError as exc:
            tally.sent[route] += 1
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
    with swarm_up(args.port, max_tokens=8) as swarm:
        doc = httpx.get(swarm.url + "/openapi.json", timeout=10).json()
        members = [
            load_keystore(swarm.home / "data" / f"node-{i}" / "key.json", LOCAL_PASSWORD)
            for i in range(3)
        ]
        t0 = time.monotonic()
        tally = fuzz(swarm.url, doc, members, args.requests, args.seed)
        took = time.monotonic() - t0
        alive = swarm.proc.poll() is None
        health = httpx.get(swarm.url + "/health", timeout=10).status_code if alive else None
        log = swarm.log
    tracebacks = log.count("Traceback")
    body = "\n\n".join(
        [
            f"Measured by `benchmarks/fuzz.py` (`--requests {args.requests} --seed {args.seed}`).",
            f"{sum(tally.sent.values())} generated requests in {took:.0f} s against "
            "`swarm up --nodes 3` (SmolLM2-135M, max_tokens 8), drawn from the node's "
            "`/openapi.json`: schema bodies (peer messages re-signed by a member or a fresh "
            "key; half the chat bodies name `swarm` and run rounds), schema-breaking bodies, "
            "arbitrary JSON, bytes, nested or oversized bodies, odd path parameters.",
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
