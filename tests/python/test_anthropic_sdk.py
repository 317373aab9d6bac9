"""codex-serve's Anthropic Messages API through the official `anthropic` Python SDK, against codex-mock.

The mock echoes the last user message as `echo: <text>`; `mock:reasoning TEXT` adds a reasoning summary
("thinking about it"), `mock:tool NAME ARGS` answers with one call `call_1` (tests/mock/src/server.rs).
"""

from __future__ import annotations

import base64
from typing import Any

import anthropic
import pytest

from conftest import Mock

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
OPUS = "claude-opus-4-7"  # mapped to gpt-5.5 by the built-in model map
CODEX = "gpt-6.2-sol"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def last_upstream(mock: Mock) -> dict[str, Any]:
    return [r for r in mock.requests() if r["path"] == "/responses"][-1]["body"]


def test_message(anthropic_client: anthropic.Anthropic, mock: Mock) -> None:
    msg = anthropic_client.messages.create(
        model=OPUS,
        max_tokens=1024,
        system="Answer in French.",
        messages=[{"role": "user", "content": "Hello"}],
        extra_body={"temperature": 0.3, "top_k": 5},  # taken, and not sent on
    )
    assert msg.type == "message" and msg.role == "assistant"
    assert msg.model == "gpt-5.5"
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == "echo: Hello"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens == 2
    body = last_upstream(mock)
    assert body["model"] == "gpt-5.5"
    assert body["instructions"] == "Answer in French."
    for dropped in ("temperature", "top_k", "max_tokens"):
        assert dropped not in body


def test_streaming(anthropic_client: anthropic.Anthropic) -> None:
    with anthropic_client.messages.stream(
        model=OPUS, max_tokens=1024, messages=[{"role": "user", "content": "Count to three"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: Count to three"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens > 0

    # The raw events, in Anthropic's order.
    events = list(
        anthropic_client.messages.create(
            model=OPUS,
            max_tokens=1024,
            stream=True,
            messages=[{"role": "user", "content": "Hi"}],
        )
    )
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"  # the SDK does not yield `ping` events
    assert kinds[-2:] == ["message_delta", "message_stop"]
    assert set(kinds) == {
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    }


def test_thinking_round_trip(anthropic_client: anthropic.Anthropic, mock: Mock) -> None:
    msg = anthropic_client.messages.create(
        model=CODEX,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "mock:reasoning fine"}],
    )
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].thinking == "thinking about it"
    assert msg.content[0].signature
    assert last_upstream(mock)["reasoning"]["effort"] == "low"

    with anthropic_client.messages.stream(
        model=CODEX,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "mock:reasoning fine"}],
    ) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].type == "thinking"
    assert streamed.content[0].thinking == "thinking about it"
    assert streamed.content[0].signature

    # Replaying the thinking block gives the backend its encrypted reasoning back.
    anthropic_client.messages.create(
        model=CODEX,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[
            {"role": "user", "content": "mock:reasoning fine"},
            {"role": "assistant", "content": msg.content},
            {"role": "user", "content": "More"},
        ],
    )
    items = last_upstream(mock)["input"]
    assert items[1]["type"] == "reasoning"
    assert items[1]["encrypted_content"]


@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(anthropic_client: anthropic.Anthropic, mock: Mock, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": 'mock:tool get_weather {"city":"Oslo"}'}]
    kwargs = dict(model=CODEX, max_tokens=1024, tools=[WEATHER_TOOL], messages=messages)
    if stream:
        with anthropic_client.messages.stream(**kwargs) as s:
            first = s.get_final_message()
    else:
        first = anthropic_client.messages.create(**kwargs)
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1
    assert uses[0].name == "get_weather"
    assert uses[0].input == {"city": "Oslo"}

    messages.append({"role": "assistant", "content": first.content})
    messages.append(
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": uses[0].id, "content": "-3 C and snowing"},
                {"type": "text", "text": "Thanks"},
            ],
        }
    )
    second = anthropic_client.messages.create(
        model=CODEX, max_tokens=1024, tools=[WEATHER_TOOL], messages=messages
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "echo: Thanks"
    items = last_upstream(mock)["input"]
    assert [i.get("type") for i in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[1]["call_id"] == uses[0].id == items[2]["call_id"]
    assert items[2]["output"] == "-3 C and snowing"


def test_image(anthropic_client: anthropic.Anthropic, mock: Mock) -> None:
    msg = anthropic_client.messages.create(
        model=CODEX,
        max_tokens=1024,
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {"type": "text", "text": "Describe these"},
                ],
            }
        ],
    )
    assert msg.content[0].text == "echo: Describe these"
    parts = last_upstream(mock)["input"][0]["content"]
    # The model takes images in full detail: sent as the codex CLI sends them.
    assert parts[0] == {
        "type": "input_image",
        "image_url": "data:image/png;base64," + PNG_B64,
        "detail": "original",
    }
    assert parts[1]["image_url"] == "https://example.com/a.jpg"
    assert base64.b64decode(PNG_B64).startswith(b"\x89PNG")


def test_count_tokens(anthropic_client: anthropic.Anthropic, mock: Mock) -> None:
    small = anthropic_client.messages.count_tokens(
        model=OPUS, messages=[{"role": "user", "content": "Hi"}]
    )
    big = anthropic_client.messages.count_tokens(
        model=OPUS,
        system="Be terse.",
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Hi " * 400}],
    )
    assert 0 < small.input_tokens < big.input_tokens
    assert not [r for r in mock.requests() if r["path"] == "/responses"]


def test_errors(anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as err:
        anthropic_client.messages.create(
            model=CODEX, max_tokens=10, messages=[{"role": "user", "content": "mock:usage_limit"}]
        )
    assert err.value.status_code == 429
    assert err.value.body["error"]["type"] == "rate_limit_error"

    # The built-in map sends Sonnet to gpt-6.1-terra, which the mock's catalog does not list.
    with pytest.raises(anthropic.NotFoundError) as err:
        anthropic_client.messages.create(
            model="claude-sonnet-4-6", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert "--model-map" in err.value.body["error"]["message"]

    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=CODEX, max_tokens=10, messages=[])
