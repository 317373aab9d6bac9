"""codex-serve's Ollama API through the official `ollama` Python client, against codex-mock.

The mock echoes the last user message as `echo: <text>`; `mock:reasoning TEXT` adds a reasoning summary
("thinking about it"), `mock:tool NAME ARGS` answers with one call `call_1` (tests/mock/src/server.rs).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import ollama
import pytest

from conftest import Endpoint, Mock

MODEL = "gpt-6.2-sol"
# A 1×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def last_upstream(mock: Mock) -> dict[str, Any]:
    return [r for r in mock.requests() if r["path"] == "/responses"][-1]["body"]


def get_weather(city: str) -> str:
    """Get the current weather in a city.

    Args:
      city: The city's name

    Returns:
      The weather, in words
    """
    return f"-3 C and snowing in {city}"


def test_version_list_and_show(ollama_client: ollama.Client, endpoint: Endpoint) -> None:
    with httpx.Client(
        base_url=endpoint.base_url, headers=endpoint.auth_headers(), **endpoint.client_kwargs()
    ) as http:
        version = http.get("/api/version").json()["version"]
    assert version.count(".") == 2

    listed = ollama_client.list()
    names = [m.model for m in listed.models]
    assert "gpt-6.2-sol:latest" in names, names
    for m in listed.models:
        # Nothing is on disk, so nothing is claimed about files.
        assert m.size is None and m.digest is None and m.modified_at is None

    shown = ollama_client.show(MODEL)
    assert shown.capabilities == ["completion", "tools", "thinking", "vision"]
    assert shown.modelinfo["codex.context_length"] == 272_000
    assert "vision" not in (ollama_client.show("gpt-5.6-luna").capabilities or [])

    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.show("llama3:8b")
    assert err.value.status_code == 404
    assert "not found" in err.value.error


def test_chat_not_streaming(ollama_client: ollama.Client, mock: Mock) -> None:
    resp = ollama_client.chat(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
        options={"temperature": 0.2, "num_predict": 50},
    )
    assert resp.message.role == "assistant"
    assert resp.message.content == "echo: Hello"
    assert resp.done and resp.done_reason == "stop"
    assert resp.prompt_eval_count and resp.prompt_eval_count > 0
    assert resp.eval_count == 2
    assert resp.total_duration and resp.total_duration > 0
    body = last_upstream(mock)
    assert body["instructions"] == "Be brief."
    assert "temperature" not in body


def test_chat_streaming(ollama_client: ollama.Client) -> None:
    parts = list(
        ollama_client.chat(
            model=MODEL, messages=[{"role": "user", "content": "Count to three"}], stream=True
        )
    )
    assert len(parts) >= 3
    assert all(not p.done for p in parts[:-1])
    assert "".join(p.message.content or "" for p in parts) == "echo: Count to three"
    last = parts[-1]
    assert last.done and last.done_reason == "stop"
    assert last.eval_count == 4 and last.prompt_eval_count


def test_thinking(ollama_client: ollama.Client, mock: Mock) -> None:
    resp = ollama_client.chat(
        model=MODEL, messages=[{"role": "user", "content": "mock:reasoning ok"}], think=True
    )
    assert resp.message.thinking == "thinking about it"
    assert resp.message.content == "echo: ok"

    parts = list(
        ollama_client.chat(
            model=MODEL,
            messages=[{"role": "user", "content": "mock:reasoning ok"}],
            think="high",
            stream=True,
        )
    )
    assert "".join(p.message.thinking or "" for p in parts) == "thinking about it"
    assert last_upstream(mock)["reasoning"]["effort"] == "high"

    resp = ollama_client.chat(
        model=MODEL, messages=[{"role": "user", "content": "mock:reasoning ok"}], think=False
    )
    assert not resp.message.thinking


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(ollama_client: ollama.Client, mock: Mock, stream: bool) -> None:
    messages: list[Any] = [
        {"role": "user", "content": 'mock:tool get_weather {"city":"Oslo"}'},
    ]
    first = ollama_client.chat(model=MODEL, messages=messages, tools=[get_weather], stream=stream)
    if stream:
        parts = list(first)
        calls = [c for p in parts for c in (p.message.tool_calls or [])]
        assert parts[-1].done
        message = ollama.Message(role="assistant", content="", tool_calls=calls)
    else:
        calls = list(first.message.tool_calls or [])
        message = first.message
    assert len(calls) == 1
    call = calls[0]
    assert call.function.name == "get_weather"
    assert call.function.arguments == {"city": "Oslo"}
    tool = last_upstream(mock)["tools"][0]
    assert tool["name"] == "get_weather"
    assert tool["parameters"]["properties"]["city"]["type"] == "string"

    # Run the tool, send the history back, as the client's docs show.
    messages.append(message)
    messages.append(
        {"role": "tool", "tool_name": "get_weather", "content": get_weather(**call.function.arguments)}
    )
    second = ollama_client.chat(model=MODEL, messages=messages, tools=[get_weather])
    assert second.done
    items = last_upstream(mock)["input"]
    assert [i.get("type") for i in items] == ["message", "function_call", "function_call_output"]
    assert items[1]["name"] == "get_weather"
    assert items[2]["call_id"] == items[1]["call_id"]
    assert items[2]["output"] == "-3 C and snowing in Oslo"


def test_image(ollama_client: ollama.Client, mock: Mock) -> None:
    resp = ollama_client.chat(
        model=MODEL, messages=[{"role": "user", "content": "What is this?", "images": [PNG]}]
    )
    assert resp.message.content == "echo: What is this?"
    parts = last_upstream(mock)["input"][0]["content"]
    assert parts[1]["type"] == "input_image"
    assert parts[1]["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()


def test_generate_and_structured_output(ollama_client: ollama.Client, mock: Mock) -> None:
    resp = ollama_client.generate(model=MODEL, prompt="Say hi", system="Be terse.", format="json")
    assert resp.response == "echo: Say hi"
    assert resp.done and resp.done_reason == "stop" and resp.eval_count
    body = last_upstream(mock)
    assert body["instructions"] == "Be terse."
    assert body["text"]["format"]["type"] == "json_object"

    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    parts = list(ollama_client.generate(model=MODEL, prompt="Say hi", format=schema, stream=True))
    assert "".join(p.response or "" for p in parts) == "echo: Say hi"
    assert last_upstream(mock)["text"]["format"]["schema"] == schema


def test_errors(ollama_client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.chat(model="llama3", messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 404

    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.chat(model=MODEL, messages=[{"role": "user", "content": "mock:usage_limit"}])
    assert err.value.status_code == 429
    assert "usage limit" in err.value.error
