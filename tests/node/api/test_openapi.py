"""The OpenAPI document served at `/openapi.json`: exactly the application's routes,
structurally valid OpenAPI 3.1 (checked here; by `openapi-spec-validator` too when it
is installed), every `$ref` resolving, and its schemas accepting real requests."""

import json
from typing import Any

import aiohttp
import jsonschema
import pytest
from eth_account import Account

from node.api.openapi import OPERATIONS, openapi_document
from node.serve import PATHS
from reputation.envelope import sign_envelope

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def registered(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the aiohttp app registers (HEAD: aiohttp's twin of
    each GET)."""
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
    }


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def check_structure(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1.")
    assert doc["info"]["title"] and doc["info"]["version"]
    ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        assert item and set(item) <= METHODS, path
        for method, op in item.items():
            ids.append(op["operationId"])
            assert op["responses"] and all(s.isdigit() for s in op["responses"]), (path, method)
            for response in op["responses"].values():
                assert response["description"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            templated = {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
            assert declared == templated, path
    assert len(ids) == len(set(ids))
    for ref in refs(doc):
        resolve(doc, ref)  # raises KeyError if dangling


async def test_the_document_lists_exactly_the_routes_and_is_valid(api_swarm) -> None:
    async with api_swarm(1) as swarm:
        node = swarm.nodes[0]
        async with (
            aiohttp.ClientSession() as session,
            session.get(node.url + "/openapi.json") as resp,
        ):
            assert resp.status == 200
            doc = await resp.json()
        routes = registered(node.runner.app)
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert documented == routes == set(OPERATIONS)
    check_structure(doc)
    try:
        from openapi_spec_validator import validate
    except ImportError:
        pass
    else:
        validate(doc)


def test_error_statuses_are_listed_in_the_one_error_shape() -> None:
    doc = openapi_document("test")
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400 and not (path == "/health" and status == "503"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
            if method == "post":
                assert {"400", "408", "413", "429", "503"} <= set(op["responses"]), path
    assert (
        "Retry-After" in doc["paths"]["/v1/chat/completions"]["post"]["responses"]["429"]["headers"]
    )


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def test_the_schemas_take_real_requests_and_refuse_wrong_ones() -> None:
    doc = openapi_document("test")
    chat = doc["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]
    check = _validator(doc, chat["application/json"]["schema"])
    good = {"model": "swarm", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8}
    assert check.is_valid(good)
    assert not check.is_valid({**good, "messages": "Hi"})
    assert not check.is_valid({**good, "max_tokens": "8"})
    answer = doc["paths"][PATHS["answer"]]["post"]["requestBody"]["content"]
    check = _validator(doc, answer["application/json"]["schema"])
    payload = {
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4,
        "participants": [],
        "prompt_hash": "0x" + "0" * 64,
        "nonce": "00",
        "model": "m",
        "weights": {},
        "draw_size": 1,
    }
    signed = sign_envelope(Account.create(), "announce", "0x" + "1" * 64, payload)
    assert check.is_valid(json.loads(json.dumps(signed))), list(check.iter_errors(signed))
    assert not check.is_valid({**signed, "type": "verdict"})
    assert not check.is_valid({**signed, "extra": 1})


@pytest.mark.parametrize("path", sorted(PATHS.values()))
def test_every_peer_route_names_its_messages(path: str) -> None:
    op = openapi_document("test")["paths"][path]["post"]
    assert op["tags"] == ["peer"] and "requestBody" in op
    assert refs(op["requestBody"]) and refs(op["responses"]["200"])
