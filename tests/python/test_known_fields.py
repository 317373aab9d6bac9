"""Known fields are type-checked even where codex-serve does not use them (issue 13, F8).

For every property OpenAI's OpenAPI document gives `CreateChatCompletionRequest` and `CreateResponse`, a
value of a JSON type the property does not take gets OpenAI's answer: 400, `invalid_type`, `param` naming
the field, "Invalid type for 'FIELD': expected …, but got … instead." A field the server forgot fails here.
Unknown fields stay accepted. The table is derived from the document at test time, never copied.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import _spec_path

ROUTES = {
    "CreateChatCompletionRequest": (
        "/v1/chat/completions",
        {"model": "gpt-5.5", "messages": [{"role": "user", "content": "hi"}]},
    ),
    "CreateResponse": ("/v1/responses", {"model": "gpt-5.5", "input": "hi"}),
}

# A wrong value of each JSON type, tried in this order.
CANDIDATES: list[tuple[str, Any]] = [
    ("string", "hot"),
    ("array", []),
    ("object", {}),
    ("boolean", True),
    ("number", 0.5),
]


def _load() -> dict[str, Any]:
    import yaml

    path = _spec_path()
    if not path.is_file():
        pytest.skip(f"OpenAPI document not found at {path}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, "rb") as f:
        return yaml.load(f, Loader=loader)


SPEC: dict[str, Any] | None = None


def _spec() -> dict[str, Any]:
    global SPEC
    if SPEC is None:
        SPEC = _load()
    return SPEC


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = _spec()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _properties(name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(node: dict[str, Any]) -> None:
        node = _resolve(node)
        for part in node.get("allOf", []):
            walk(part)
        out.update(node.get("properties", {}))

    walk({"$ref": f"#/components/schemas/{name}"})
    return out


def _types(node: dict[str, Any], depth: int = 0) -> set[str]:
    """The JSON types a schema takes ("any" when it does not say)."""
    node = _resolve(node)
    if depth > 8:
        return {"any"}
    found: set[str] = set()
    for key in ("anyOf", "oneOf"):
        for alt in node.get(key, []):
            found |= _types(alt, depth + 1)
    if "allOf" in node and not found:
        for part in node["allOf"]:
            found |= _types(part, depth + 1) - {"any"}
    t = node.get("type")
    if isinstance(t, str):
        found.add(t)
    elif isinstance(t, list):
        found |= set(t)
    if "enum" in node and t is None:
        found |= {_json_type(v) for v in node["enum"]}
    if "const" in node and t is None:
        found.add(_json_type(node["const"]))
    if node.get("nullable"):
        found.add("null")
    return found or {"any"}


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def _wrong_value(types: set[str]) -> Any | None:
    if "any" in types:
        return None
    for kind, value in CANDIDATES:
        if kind not in types:
            return value
    return None


def _cases() -> list[tuple[str, str, Any]]:
    cases = []
    for schema in ROUTES:
        for field, node in _properties(schema).items():
            wrong = _wrong_value(_types(node))
            if wrong is not None:
                cases.append((schema, field, wrong))
    return cases


def _ids(case: tuple[str, str, Any]) -> str:
    return f"{case[0]}.{case[1]}"


@pytest.mark.parametrize("case", _cases() if _spec_path().is_file() else [], ids=_ids)
def test_a_wrong_typed_known_field_is_refused_in_openais_words(case, http: httpx.Client) -> None:
    schema, field, wrong = case
    path, base = ROUTES[schema]
    body = {**base, field: wrong}
    resp = http.post(path, json=body)
    assert resp.status_code == 400, f"{field}={wrong!r}: {resp.status_code} {resp.text}"
    err = resp.json()["error"]
    assert err["param"] == field, err
    assert err["code"] == "invalid_type", err
    assert err["type"] == "invalid_request_error", err
    assert err["message"].startswith(f"Invalid type for '{field}': expected "), err
    assert err["message"].endswith(" instead."), err


def test_the_spec_table_is_not_empty() -> None:
    if not _spec_path().is_file():
        pytest.skip("no OpenAPI document")
    by_schema = {s: [c for c in _cases() if c[0] == s] for s in ROUTES}
    # Both request types define dozens of typed fields; a broken resolver would find few.
    assert all(len(v) >= 25 for v in by_schema.values()), {k: len(v) for k, v in by_schema.items()}


@pytest.mark.parametrize(
    "path,body,param",
    [
        (
            "/v1/chat/completions",
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": 123}}]},
            "tools[0].function.parameters",
        ),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ("/v1/chat/completions", {"stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
        ("/v1/chat/completions", {"max_tokens": 1.5}, "max_tokens"),
        ("/v1/responses", {"reasoning": {"effort": 3}}, "reasoning.effort"),
        ("/v1/responses", {"text": {"format": {"type": "json_schema", "schema": "x"}}}, "text.format.schema"),
    ],
)
def test_nested_fields_are_named_by_path(path: str, body: dict, param: str, http: httpx.Client) -> None:
    base = ROUTES["CreateChatCompletionRequest" if "chat" in path else "CreateResponse"][1]
    resp = http.post(path, json={**base, **body})
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param, resp.text


def test_unknown_fields_and_right_types_pass(http: httpx.Client) -> None:
    body = {
        "model": "gpt-5.5",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "max_tokens": 20,
        "stop": ["x"],
        "seed": 1,
        "metadata": {"k": "v"},
        "some_future_field": {"anything": [1, "two"]},
    }
    resp = http.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200, resp.text
