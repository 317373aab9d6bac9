"""codex-serve end to end, through the official OpenAI Python SDK, raw httpx and curl, against codex-mock.

What the mock answers is determined by the request (see tests/mock/src/server.rs): with nothing queued it
echoes the last user message as `echo: <text>`, and `mock:` directives ask for reasoning, tool calls,
errors or a replay of `reference/NAME.sse`. Expected values below are derived from those rules or from the
fixture files themselves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from conftest import ACCOUNT_ID, REPO, Mock, Schema, Server, over_tcp_too

MODEL = "gpt-6.2-sol"
CHAT_PATH = "/v1/chat/completions"
# The reasoning summary the mock streams for `mock:reasoning TEXT` (tests/mock/src/server.rs).
MOCK_REASONING_SUMMARY = "thinking about it"


# ---------------------------------------------------------------------------------------------- helpers


def echo(text: str) -> str:
    """The mock's answer to a plain user message."""
    return f"echo: {text}"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def fixture_events(name: str) -> list[dict[str, Any]]:
    """The `data:` payloads of reference/NAME.sse, in order."""
    text = (REPO / "reference" / f"{name}.sse").read_text(encoding="utf-8")
    events = []
    for frame in text.split("\n\n"):
        data = [line[len("data:") :].strip() for line in frame.splitlines() if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def fixture_text(name: str) -> str:
    """The answer text a fixture streams: its `response.output_text.delta`s joined."""
    return "".join(
        e["delta"] for e in fixture_events(name) if e["type"] == "response.output_text.delta"
    )


def fixture_reasoning(name: str) -> str:
    """The reasoning summary a fixture streams (one summary part per reasoning item assumed)."""
    return "".join(
        e["delta"]
        for e in fixture_events(name)
        if e["type"] == "response.reasoning_summary_text.delta"
    )


def fixture_terminal(name: str) -> dict[str, Any]:
    return fixture_events(name)[-1]


def sse_data(lines: list[str]) -> list[str]:
    """The payloads of the `data:` lines of an SSE body, in order."""
    return [line[len("data:") :].strip() for line in lines if line.startswith("data:")]


def post_stream_raw(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    """POST a streaming chat request; return the response and every non-empty line of its body."""
    with http.stream("POST", CHAT_PATH, json=body) as resp:
        lines = [line for line in resp.iter_lines() if line.strip()]
    return resp, lines


def assert_error_shape(schema: Schema, body: Any, status: int | None = None) -> dict[str, Any]:
    """`{"error": {message, type, param, code}}` as OpenAI sends it; returns the inner object."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert set(err) >= {"message", "type", "param", "code"}, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["type"], str) and err["type"], err
    schema.validate("ErrorResponse", body)
    return err


def only_request(mock: Mock) -> dict[str, Any]:
    reqs = mock.requests()
    assert len(reqs) == 1, f"expected one upstream request, got {len(reqs)}"
    return reqs[0]


def input_texts(item: dict[str, Any]) -> str:
    content = item["content"]
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content if p.get("type") == "input_text")


def codex_frame(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


def partial_codex_stream(resp_id: str, deltas: list[str]) -> list[str]:
    """SSE frames of an answer that starts streaming text and never reaches `response.completed`."""
    msg_id = f"msg_{resp_id}"
    response = {
        "id": resp_id,
        "object": "response",
        "created_at": 1_795_000_000,
        "status": "in_progress",
        "model": MODEL,
        "output": [],
        "error": None,
        "incomplete_details": None,
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": msg_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": msg_id,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "annotations": [], "text": ""},
        },
    ]
    for delta in deltas:
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": msg_id,
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
            }
        )
    for seq, event in enumerate(events):
        event["sequence_number"] = seq
    return [codex_frame(e) for e in events]


# ---------------------------------------------------------------------------------------------- basics


def test_openapi_document_is_available(schema: Schema) -> None:
    """Says plainly when the schema checks in the other tests are being skipped."""
    if not schema.available:
        pytest.skip(schema.reason)
    schema.validator("CreateChatCompletionResponse")


@over_tcp_too
def test_non_streaming_completion(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    system = "You are a terse assistant for the e2e suite."
    text = "hello there, how are you today?"
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "system", "content": system}, user(text)],
    )
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    body = raw.http_response.json()
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion)
    # The raw JSON must also pass the SDK's own (validating) model, not just its lenient construct().
    strict = ChatCompletion.model_validate(body)
    assert strict.id == completion.id
    schema.validate("CreateChatCompletionResponse", body)

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == MODEL
    assert isinstance(completion.created, int) and completion.created > 0
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == echo(text)
    assert not choice.message.tool_calls
    assert "reasoning_content" not in body["choices"][0]["message"]

    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    raw_usage = body["usage"]
    assert isinstance(raw_usage["prompt_tokens_details"]["cached_tokens"], int)
    assert isinstance(raw_usage["completion_tokens_details"]["reasoning_tokens"], int)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert (
        usage.completion_tokens_details is not None
        and usage.completion_tokens_details.reasoning_tokens == 0
    )

    # What went upstream.
    req = only_request(mock)
    assert req["path"] == "/responses"
    upstream = req["body"]
    assert upstream["instructions"] == system
    assert upstream["store"] is False
    assert upstream["stream"] is True
    assert upstream["model"] == MODEL
    assert not any(item.get("role") == "system" for item in upstream["input"])
    users = [item for item in upstream["input"] if item.get("role") == "user"]
    assert [input_texts(item) for item in users] == [text]
    headers = req["headers"]
    assert upstream["prompt_cache_key"], "prompt_cache_key must be set"
    assert headers.get("session-id") == upstream["prompt_cache_key"]
    auth = headers.get("authorization", "")
    assert auth.startswith("Bearer ") and len(auth) > len("Bearer "), "no bearer token upstream"
    assert headers.get("chatgpt-account-id") == ACCOUNT_ID

    # The plain (non-raw) call gives the same typed result.
    again = client.chat.completions.create(model=MODEL, messages=[user(text)])
    assert isinstance(again, ChatCompletion)
    assert again.choices[0].message.content == echo(text)


def test_system_and_developer_messages_are_translated(client: openai.OpenAI, mock: Mock) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Prefer lists."},
        user("what now?"),
    ]
    completion = client.chat.completions.create(model=MODEL, messages=messages, prompt_cache_key="e2e-key-1")
    assert completion.choices[0].message.content == echo("what now?")
    req = only_request(mock)
    body = req["body"]
    assert body["instructions"] == "Be brief."
    roles = [item.get("role") for item in body["input"]]
    assert roles == ["developer", "user"]
    assert input_texts(body["input"][0]) == "Prefer lists."
    # The conversation's key becomes its UUIDv7: the codex CLI's prompt_cache_key and session-id.
    session = req["headers"].get("session-id")
    assert session and uuid.UUID(session).version == 7
    assert body["prompt_cache_key"] == session


# ---------------------------------------------------------------------------------------------- streaming


@over_tcp_too
def test_streaming_with_usage(client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema) -> None:
    text = "stream me a few words please"
    messages = [user(text)]
    stream = client.chat.completions.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks, "no chunks"
    for chunk in chunks:
        assert isinstance(chunk, ChatCompletionChunk)
        assert chunk.object == "chat.completion.chunk"
        assert chunk.model == MODEL
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share its id"

    first = chunks[0]
    assert first.choices and first.choices[0].delta.role == "assistant"
    with_finish = [c for c in chunks if c.choices and c.choices[0].finish_reason is not None]
    assert len(with_finish) == 1, [c.model_dump() for c in with_finish]
    assert with_finish[0].choices[0].finish_reason == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == echo(text)

    # The same request over raw httpx: every data line is a valid chunk, and the stream ends with [DONE].
    resp, lines = post_stream_raw(
        http,
        {"model": MODEL, "messages": messages, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    payloads = sse_data(lines)
    assert payloads.count("[DONE]") == 1
    raw_chunks = [json.loads(p) for p in payloads[:-1]]
    for obj in raw_chunks:
        ChatCompletionChunk.model_validate(obj)
        schema.validate("CreateChatCompletionStreamResponse", obj)
    assert raw_chunks[-1]["choices"] == [] and raw_chunks[-1]["usage"]["total_tokens"] > 0
    raw_content = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in raw_chunks if c["choices"]
    )
    assert raw_content == echo(text)
    assert len(mock.requests()) == 2


def test_streaming_without_usage_has_no_usage_chunk(client: openai.OpenAI, schema: Schema) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=[user("no usage")], stream=True))
    assert all(c.choices for c in chunks), "without include_usage there is no choices=[] chunk"
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == echo("no usage")


# ---------------------------------------------------------------------------------------------- reasoning


def test_reasoning_non_streaming(client: openai.OpenAI, schema: Schema) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=[user("mock:reasoning hi")])
    body = raw.http_response.json()
    schema.validate("CreateChatCompletionResponse", body)
    message = raw.parse().choices[0].message
    assert message.content == echo("hi")
    assert MOCK_REASONING_SUMMARY not in (message.content or "")
    assert (message.model_extra or {}).get("reasoning_content") == MOCK_REASONING_SUMMARY
    assert body["choices"][0]["message"]["reasoning_content"] == MOCK_REASONING_SUMMARY
    usage = body["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] > 0


def test_reasoning_streaming(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model=MODEL, messages=[user("mock:reasoning hi")], stream=True))
    reasoning, content, order = [], [], []
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        extra = (delta.model_extra or {}).get("reasoning_content")
        if extra:
            reasoning.append(extra)
            order.append("r")
        if delta.content:
            content.append(delta.content)
            order.append("c")
    assert "".join(reasoning) == MOCK_REASONING_SUMMARY
    assert "".join(content) == echo("hi")
    assert order == sorted(order, reverse=True), f"reasoning must come before content: {order}"


def test_reasoning_fixture_maps_text_reasoning_and_usage(client: openai.OpenAI, schema: Schema) -> None:
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=[user("mock:fixture reasoning")])
    body = raw.http_response.json()
    schema.validate("CreateChatCompletionResponse", body)
    message = body["choices"][0]["message"]
    assert message["content"] == fixture_text("reasoning")
    assert message["reasoning_content"] == fixture_reasoning("reasoning")
    upstream_usage = fixture_terminal("reasoning")["response"]["usage"]
    assert body["usage"]["prompt_tokens"] == upstream_usage["input_tokens"]
    assert body["usage"]["completion_tokens"] == upstream_usage["output_tokens"]
    assert (
        body["usage"]["prompt_tokens_details"]["cached_tokens"]
        == upstream_usage["input_tokens_details"]["cached_tokens"]
    )
    assert (
        body["usage"]["completion_tokens_details"]["reasoning_tokens"]
        == upstream_usage["output_tokens_details"]["reasoning_tokens"]
    )


# ---------------------------------------------------------------------------------------------- content


def test_multibyte_utf8_stream(client: openai.OpenAI, http: httpx.Client, schema: Schema) -> None:
    expected = fixture_text("utf8")
    assert any(ord(ch) > 0xFFFF for ch in expected), "the fixture should hold a 4-byte character"
    chunks = list(client.chat.completions.create(model=MODEL, messages=[user("mock:fixture utf8")], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == expected

    resp, lines = post_stream_raw(
        http, {"model": MODEL, "messages": [user("mock:fixture utf8")], "stream": True}
    )
    assert resp.status_code == 200 and lines[-1] == "data: [DONE]"
    objs = [json.loads(p) for p in sse_data(lines)[:-1]]
    for obj in objs:
        schema.validate("CreateChatCompletionStreamResponse", obj)
    assert "".join(o["choices"][0]["delta"].get("content") or "" for o in objs if o["choices"]) == expected

    completion = client.chat.completions.create(model=MODEL, messages=[user("mock:fixture utf8")])
    assert completion.choices[0].message.content == expected


def test_incomplete_answer_finishes_with_length(client: openai.OpenAI, schema: Schema) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[user("mock:fixture incomplete_max_tokens")]
    )
    body = raw.http_response.json()
    schema.validate("CreateChatCompletionResponse", body)
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["choices"][0]["message"]["content"] == fixture_text("incomplete_max_tokens")

    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=[user("mock:fixture incomplete_max_tokens")], stream=True
        )
    )
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]


@over_tcp_too
def test_tool_call(client: openai.OpenAI, schema: Schema) -> None:
    args = {"city": "Paris", "unit": "c"}
    text = f"mock:tool get_weather {json.dumps(args)}"
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=[user(text)], tools=tools)
    body = raw.http_response.json()
    schema.validate("CreateChatCompletionResponse", body)
    choice = raw.parse().choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == args
    assert calls[0].id

    chunks = list(client.chat.completions.create(model=MODEL, messages=[user(text)], tools=tools, stream=True))
    streamed_args, names = "", []
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            assert call.index == 0
            if call.function and call.function.name:
                names.append(call.function.name)
            streamed_args += (call.function.arguments or "") if call.function else ""
    assert names == ["get_weather"]
    assert json.loads(streamed_args) == args
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "tool_calls"
    ]


# ---------------------------------------------------------------------------------------------- failures


def test_context_window_failure_is_bad_request(client: openai.OpenAI, schema: Schema) -> None:
    expected = fixture_terminal("failed_context_window")["response"]["error"]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[user("mock:fixture failed_context_window")])
    err = info.value
    assert err.status_code == 400
    assert err.code == expected["code"] == "context_length_exceeded"
    inner = assert_error_shape(schema, err.response.json())
    assert inner["code"] == "context_length_exceeded"
    assert inner["type"] == "invalid_request_error"
    assert inner["message"] == expected["message"]


def test_context_window_failure_while_streaming(client: openai.OpenAI) -> None:
    """A failure before any output gets a real 400 even when the client asked for a stream."""
    with pytest.raises(openai.BadRequestError) as info:
        for _ in client.chat.completions.create(
            model=MODEL, messages=[user("mock:fixture failed_context_window")], stream=True
        ):
            pass
    assert info.value.code == "context_length_exceeded"


@over_tcp_too
def test_usage_limit_is_rate_limit_with_retry_after(client: openai.OpenAI, schema: Schema) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model=MODEL, messages=[user("mock:usage_limit")])
    err = info.value
    assert err.status_code == 429
    retry_after = err.response.headers.get("retry-after")
    assert retry_after is not None and retry_after.isdigit(), retry_after
    # The mock's limit resets an hour from now.
    assert 0 < int(retry_after) <= 3600
    inner = assert_error_shape(schema, err.response.json())
    assert inner["code"] == "usage_limit_reached"
    assert "reset" in inner["message"].lower()


def test_unknown_route_is_404_in_error_shape(http: httpx.Client, schema: Schema) -> None:
    resp = http.get("/v1/no-such-endpoint")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/json")
    err = assert_error_shape(schema, resp.json())
    assert "/v1/no-such-endpoint" in err["message"]


def test_wrong_method_is_405_in_error_shape(http: httpx.Client, schema: Schema) -> None:
    resp = http.get(CHAT_PATH)
    assert resp.status_code == 405
    assert_error_shape(schema, resp.json())


def test_bad_json_is_400(http: httpx.Client, mock: Mock, schema: Schema) -> None:
    resp = http.post(CHAT_PATH, content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"})
    assert resp.status_code == 400
    err = assert_error_shape(schema, resp.json())
    assert err["type"] == "invalid_request_error"
    assert mock.requests() == []


def test_unknown_role_is_400(client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema) -> None:
    messages: Any = [{"role": "wizard", "content": "abracadabra"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=messages)
    assert info.value.status_code == 400
    assert_error_shape(schema, info.value.response.json())

    resp = http.post(CHAT_PATH, json={"model": MODEL, "messages": messages, "stream": True})
    assert resp.status_code == 400
    err = assert_error_shape(schema, resp.json())
    assert err["type"] == "invalid_request_error"
    assert mock.requests() == [], "an invalid request must not reach the backend"


def test_upstream_rejection_keeps_its_status(client: openai.OpenAI, schema: Schema) -> None:
    body = json.dumps({"detail": "Unsupported parameter: frobnicate"})
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=[user(f"mock:status 400 {body}")])
    inner = assert_error_shape(schema, info.value.response.json())
    assert "frobnicate" in inner["message"]


def test_mid_stream_cut_ends_with_an_error(
    client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema
) -> None:
    """The backend closes after a few deltas with no `response.completed`.

    codex-serve has already sent 200 and some chunks, so it ends the stream with a `data: {"error": ...}`
    frame and no `[DONE]`. The SDK (openai/_streaming.py) raises `APIError` on a data frame that carries an
    `error` key, after yielding the chunks before it.
    """
    deltas = ["partial ", "answer ", "then—"]
    mock.reply_raw(partial_codex_stream("resp_cut_sdk", deltas))
    received = []
    with pytest.raises(openai.APIError) as info:
        for chunk in client.chat.completions.create(model=MODEL, messages=[user("cut me off")], stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert "".join(received) == "".join(deltas)
    err = info.value
    assert not isinstance(err, openai.APIStatusError), "the HTTP status was already 200"
    assert isinstance(err.body, dict)
    schema.validate("Error", err.body)
    assert err.code == "upstream_error"

    mock.reply_raw(partial_codex_stream("resp_cut_raw", deltas))
    resp, lines = post_stream_raw(http, {"model": MODEL, "messages": [user("cut me off")], "stream": True})
    assert resp.status_code == 200
    payloads = sse_data(lines)
    assert "[DONE]" not in payloads
    last = json.loads(payloads[-1])
    assert_error_shape(schema, last)
    content = "".join(
        json.loads(p)["choices"][0]["delta"].get("content") or "" for p in payloads[:-1] if json.loads(p)["choices"]
    )
    assert content == "".join(deltas)


# ---------------------------------------------------------------------------------------------- models


@over_tcp_too
def test_models(client: openai.OpenAI, http: httpx.Client, mock: Mock, server: Server, schema: Schema) -> None:
    catalog = mock.models(server.tokens)
    listed = {m["slug"] for m in catalog if m.get("visibility") == "list"}
    assert listed, "the mock's catalog lists no models"

    page = client.models.list()
    models = list(page)
    assert models
    for m in models:
        assert m.id and isinstance(m.id, str)
        assert m.object == "model"
        assert isinstance(m.created, int)
        assert isinstance(m.owned_by, str) and m.owned_by
    assert {m.id for m in models} == listed

    resp = http.get("/v1/models")
    assert resp.status_code == 200
    body = resp.json()
    schema.validate("ListModelsResponse", body)
    assert body["object"] == "list"

    one = client.models.retrieve(MODEL)
    assert one.id == MODEL and one.object == "model"
    schema.validate("Model", http.get(f"/v1/models/{MODEL}").json())

    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert_error_shape(schema, info.value.response.json())


# ---------------------------------------------------------------------------------------------- curl


def test_curl_streaming(server: Server) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    text = "hello from curl"
    body = json.dumps({"model": MODEL, "messages": [user(text)], "stream": True})
    out = subprocess.run(
        [curl, "--unix-socket", server.socket, "-sN", f"http://localhost{CHAT_PATH}", "-d", body],
        capture_output=True,
        timeout=20,
        check=True,
    ).stdout.decode("utf-8")
    lines = [line for line in out.splitlines() if line.strip()]
    assert "data: [DONE]" in lines and lines[-1] == "data: [DONE]"
    objs = [json.loads(p) for p in sse_data(lines) if p != "[DONE]"]
    content = "".join(o["choices"][0]["delta"].get("content") or "" for o in objs if o["choices"])
    assert content == echo(text)
