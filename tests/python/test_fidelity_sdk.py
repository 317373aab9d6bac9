"""OpenAI fidelity through the official SDK: streamed tool calls, structured output, reasoning continuity
across a tool loop, `POST /v1/responses`, and `GET /v1/models/{id}` (issue 3).

The answers either come from the mock's own rules (an echo of the last user message, `mock:tool`,
`mock:usage_limit`; see tests/mock/src/server.rs) or are queued through `/_mock/reply`. Queued event
sequences are built by `Codex` below as complete Responses events, every field the OpenAPI document requires
filled in, so that what the server passes through can be validated strictly and compared with what was sent.
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import Response
from pydantic import BaseModel

from conftest import Mock, Schema, over_tcp_too

MODEL = "gpt-6.2-sol"
RESPONSES_PATH = "/v1/responses"


# ---------------------------------------------------------------------------------------------- helpers


def echo(text: str) -> str:
    """The mock's answer to a plain user message."""
    return f"echo: {text}"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def pieces(text: str, n: int) -> list[str]:
    """`text` cut into `n` non-empty runs (fewer when it is shorter than `n`)."""
    size = max(1, -(-len(text) // n))
    return [text[i : i + size] for i in range(0, len(text), size)]


def upstream_bodies(mock: Mock) -> list[dict[str, Any]]:
    return [r["body"] for r in mock.requests() if r["path"] == "/responses"]


def only_upstream(mock: Mock) -> dict[str, Any]:
    bodies = upstream_bodies(mock)
    assert len(bodies) == 1, f"expected one upstream request, got {len(bodies)}"
    return bodies[0]


def item_kind(item: dict[str, Any]) -> str:
    return item.get("type", "message")


def input_text(item: dict[str, Any]) -> str:
    content = item["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content)


class Codex:
    """A complete Codex `/responses` event sequence, numbered, with every field the OpenAPI document requires.

    `message`, `reasoning` and `function_call` add output items in order; `complete` ends the sequence with
    `response.completed` carrying the full response object and returns the events.
    """

    def __init__(self, resp_id: str, model: str = MODEL) -> None:
        self.resp_id = resp_id
        self.model = model
        self.created_at = int(time.time())
        self.events: list[dict[str, Any]] = []
        self.output: list[dict[str, Any]] = []
        self._push({"type": "response.created", "response": self.response("in_progress", [])})
        self._push({"type": "response.in_progress", "response": self.response("in_progress", [])})

    def _push(self, event: dict[str, Any]) -> None:
        event["sequence_number"] = len(self.events)
        self.events.append(event)

    def response(
        self, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = {
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "metadata": {},
            "tool_choice": "auto",
            "tools": [],
            "temperature": None,
            "top_p": None,
        }
        if usage is not None:
            response["usage"] = usage
        return response

    def message(self, deltas: list[str]) -> Codex:
        idx, item_id, text = len(self.output), f"msg_{self.resp_id}_{len(self.output)}", "".join(deltas)

        def part(t: str) -> dict[str, Any]:
            return {"type": "output_text", "annotations": [], "logprobs": [], "text": t}

        where = {"item_id": item_id, "output_index": idx, "content_index": 0}
        added = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        self._push({"type": "response.output_item.added", "output_index": idx, "item": added})
        self._push({"type": "response.content_part.added", **where, "part": part("")})
        for delta in deltas:
            self._push({"type": "response.output_text.delta", **where, "delta": delta, "logprobs": []})
        self._push({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
        self._push({"type": "response.content_part.done", **where, "part": part(text)})
        done = {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part(text)]}
        self._push({"type": "response.output_item.done", "output_index": idx, "item": done})
        self.output.append(done)
        return self

    def reasoning(self, deltas: list[str], encrypted: str) -> Codex:
        idx, item_id, text = len(self.output), f"rs_{self.resp_id}_{len(self.output)}", "".join(deltas)

        def part(t: str) -> dict[str, Any]:
            return {"type": "summary_text", "text": t}

        where = {"item_id": item_id, "output_index": idx, "summary_index": 0}
        self._push(
            {
                "type": "response.output_item.added",
                "output_index": idx,
                "item": {"id": item_id, "type": "reasoning", "summary": []},
            }
        )
        self._push({"type": "response.reasoning_summary_part.added", **where, "part": part("")})
        for delta in deltas:
            self._push({"type": "response.reasoning_summary_text.delta", **where, "delta": delta})
        self._push({"type": "response.reasoning_summary_text.done", **where, "text": text})
        self._push({"type": "response.reasoning_summary_part.done", **where, "part": part(text)})
        done = {"id": item_id, "type": "reasoning", "summary": [part(text)], "encrypted_content": encrypted}
        self._push({"type": "response.output_item.done", "output_index": idx, "item": done})
        self.output.append(done)
        return self

    def function_call(self, call_id: str, name: str, deltas: list[str]) -> Codex:
        idx, item_id, arguments = len(self.output), f"fc_{self.resp_id}_{len(self.output)}", "".join(deltas)
        base = {"id": item_id, "type": "function_call", "call_id": call_id, "name": name}
        self._push(
            {
                "type": "response.output_item.added",
                "output_index": idx,
                "item": {**base, "status": "in_progress", "arguments": ""},
            }
        )
        for delta in deltas:
            self._push(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item_id,
                    "output_index": idx,
                    "delta": delta,
                }
            )
        self._push(
            {
                "type": "response.function_call_arguments.done",
                "item_id": item_id,
                "output_index": idx,
                "name": name,
                "arguments": arguments,
            }
        )
        done = {**base, "status": "completed", "arguments": arguments}
        self._push({"type": "response.output_item.done", "output_index": idx, "item": done})
        self.output.append(done)
        return self

    def complete(
        self, input_tokens: int = 42, output_tokens: int = 17, reasoning_tokens: int = 0
    ) -> list[dict[str, Any]]:
        usage = {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens,
        }
        response = self.response("completed", list(self.output), usage)
        response["completed_at"] = self.created_at + 1
        self._push({"type": "response.completed", "response": response})
        return self.events


def validate_stream_event(schema: Schema, event: dict[str, Any]) -> None:
    """Checks one Responses stream event against its own schema, then against the `ResponseStreamEvent` union."""
    member = schema.union_member("ResponseStreamEvent", event.get("type", ""))
    if schema.available:
        assert member is not None, f"event type {event.get('type')!r} is not a ResponseStreamEvent"
        schema.validate(member, event)
    schema.validate("ResponseStreamEvent", event)


def responses_sse(http: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str | None, str]]]:
    """POST a streaming /v1/responses request; return the response and its frames as `(event, data)`."""
    frames: list[tuple[str | None, str]] = []
    with http.stream("POST", RESPONSES_PATH, json=body) as resp:
        event: str | None = None
        data: list[str] = []
        for line in resp.iter_lines():
            if line.startswith("event:"):
                event = line[len("event:") :].strip()
            elif line.startswith("data:"):
                data.append(line[len("data:") :].strip())
            elif not line.strip() and data:
                frames.append((event, "\n".join(data)))
                event, data = None, []
        if data:
            frames.append((event, "\n".join(data)))
    return resp, frames


# ---------------------------------------------------------------------------------------------- models


class GetWeather(BaseModel):
    """Current weather for a city."""

    city: str
    unit: Literal["c", "f"]


class GetTime(BaseModel):
    """Local time in a timezone."""

    timezone: str


class CityReport(BaseModel):
    city: str
    temperature_c: float
    conditions: list[str]


# ---------------------------------------------------------------------------------------------- chat: tool calls


def collect_tool_stream(stream: Any) -> dict[str, Any]:
    """Drains an SDK `ChatCompletionStream`, sorting its events by kind."""
    out: dict[str, Any] = {"chunks": [], "arg_deltas": {}, "args_done": [], "content": [], "types": []}
    for event in stream:
        out["types"].append(event.type)
        if event.type == "chunk":
            out["chunks"].append(event.chunk)
        elif event.type == "tool_calls.function.arguments.delta":
            if event.arguments_delta:
                out["arg_deltas"].setdefault(event.index, []).append(event.arguments_delta)
        elif event.type == "tool_calls.function.arguments.done":
            out["args_done"].append(event)
        elif event.type == "content.delta":
            out["content"].append(event.delta)
    out["final"] = stream.get_final_completion()
    return out


def assert_chunks_valid(schema: Schema, chunks: list[ChatCompletionChunk]) -> None:
    for chunk in chunks:
        raw = chunk.to_dict()
        ChatCompletionChunk.model_validate(raw)
        schema.validate("CreateChatCompletionStreamResponse", raw)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"], f"exactly one finish_reason, `tool_calls`: {finishes}"


def first_deltas_per_call(chunks: list[ChatCompletionChunk]) -> dict[int, list[Any]]:
    calls: dict[int, list[Any]] = {}
    for chunk in chunks:
        for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            calls.setdefault(call.index, []).append(call)
    return calls


def test_streamed_tool_call_from_mock_directive_via_sdk_stream_helper(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    args = {"city": "Oslo", "unit": "c"}
    tool = openai.pydantic_function_tool(GetWeather, name="get_weather")
    with client.chat.completions.stream(
        model=MODEL, messages=[user(f"mock:tool get_weather {json.dumps(args)}")], tools=[tool]
    ) as stream:
        got = collect_tool_stream(stream)

    # The mock streams the arguments in about three pieces; they must reach the client as pieces.
    assert list(got["arg_deltas"]) == [0]
    assert len(got["arg_deltas"][0]) >= 2, got["arg_deltas"]
    assert json.loads("".join(got["arg_deltas"][0])) == args
    assert [e.name for e in got["args_done"]] == ["get_weather"]
    assert got["args_done"][0].parsed_arguments == GetWeather(**args)
    assert_chunks_valid(schema, got["chunks"])

    choice = got["final"].choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls is not None and len(calls) == 1
    assert calls[0].id == "call_1" and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments) == args
    assert isinstance(calls[0].function.parsed_arguments, GetWeather)
    assert calls[0].function.parsed_arguments == GetWeather(**args)

    # The tool went upstream flat, `strict`, `description` and `parameters` as the SDK built them.
    fn = tool["function"]
    upstream = only_upstream(mock)
    assert upstream["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "description": fn["description"],
            "parameters": fn["parameters"],
            "strict": True,
        }
    ]
    # A Responses Lite model: the codex CLI asks for no parallel calls.
    assert upstream["parallel_tool_calls"] is False


def test_parallel_streamed_tool_calls_after_text_via_sdk_stream_helper(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    weather = {"city": "Oslo", "unit": "c"}
    clock = {"timezone": "Europe/Oslo"}
    weather_deltas = pieces(json.dumps(weather), 4)
    clock_deltas = pieces(json.dumps(clock), 3)
    mock.reply_sse(
        Codex("resp_par")
        .message(["Checking ", "both."])
        .function_call("call_w", "GetWeather", weather_deltas)
        .function_call("call_t", "GetTime", clock_deltas)
        .complete()
    )
    tools = [openai.pydantic_function_tool(GetWeather), openai.pydantic_function_tool(GetTime)]
    with client.chat.completions.stream(
        model=MODEL, messages=[user("weather and time in Oslo?")], tools=tools, tool_choice="required"
    ) as stream:
        got = collect_tool_stream(stream)

    assert "".join(got["content"]) == "Checking both."
    # Each call's argument text arrives in the increments the backend streamed, under its own index.
    assert got["arg_deltas"] == {0: weather_deltas, 1: clock_deltas}
    assert [(e.index, e.name) for e in got["args_done"]] == [(0, "GetWeather"), (1, "GetTime")]
    assert_chunks_valid(schema, got["chunks"])
    # The first delta of each call carries id, type and name; later ones only argument text.
    for index, (call_id, name) in {0: ("call_w", "GetWeather"), 1: ("call_t", "GetTime")}.items():
        deltas = first_deltas_per_call(got["chunks"])[index]
        first, rest = deltas[0], deltas[1:]
        assert (first.id, first.type, first.function.name) == (call_id, "function", name)
        assert rest and all(d.id is None and d.function.name is None for d in rest)
    # Text comes before the first call chunk.
    kinds = [
        "call" if c.choices[0].delta.tool_calls else "text"
        for c in got["chunks"]
        if c.choices and (c.choices[0].delta.tool_calls or c.choices[0].delta.content)
    ]
    assert kinds == sorted(kinds, reverse=True), kinds

    message = got["final"].choices[0].message
    assert got["final"].choices[0].finish_reason == "tool_calls"
    assert message.content == "Checking both."
    assert [c.id for c in message.tool_calls or []] == ["call_w", "call_t"]
    assert message.tool_calls[0].function.parsed_arguments == GetWeather(**weather)
    assert message.tool_calls[1].function.parsed_arguments == GetTime(**clock)

    upstream = only_upstream(mock)
    assert [t["name"] for t in upstream["tools"]] == ["GetWeather", "GetTime"]
    assert all(t["strict"] is True and t["type"] == "function" for t in upstream["tools"])
    assert upstream["tool_choice"] == "required"
    # A Responses Lite model: the codex CLI asks for no parallel calls.
    assert upstream["parallel_tool_calls"] is False


def test_named_tool_choice_is_converted_to_the_responses_form(client: openai.OpenAI, mock: Mock) -> None:
    tool = openai.pydantic_function_tool(GetWeather)
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[user("weather?")],
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "GetWeather"}},
        parallel_tool_calls=False,
    )
    assert completion.choices[0].message.content == echo("weather?")
    upstream = only_upstream(mock)
    assert upstream["tool_choice"] == {"type": "function", "name": "GetWeather"}
    assert upstream["parallel_tool_calls"] is False


# ---------------------------------------------------------------------------------------------- chat: structured output


def test_structured_output_parsed_by_the_sdk(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    report = CityReport(city="Oslo", temperature_c=-3.5, conditions=["snow", "wind"])
    text = report.model_dump_json()
    mock.reply_sse(Codex("resp_so").message(pieces(text, 3)).complete())
    raw = client.chat.completions.with_raw_response.parse(
        model=MODEL, messages=[user("report on Oslo as JSON")], response_format=CityReport
    )
    body = raw.http_response.json()
    schema.validate("CreateChatCompletionResponse", body)
    completion = raw.parse()
    message = completion.choices[0].message
    assert completion.choices[0].finish_reason == "stop"
    assert message.content == text
    assert isinstance(message.parsed, CityReport)
    assert message.parsed == report

    # What the SDK sent as `response_format.json_schema` is what reached the backend as `text.format`.
    sent = json.loads(raw.http_request.content)["response_format"]
    assert sent["type"] == "json_schema"
    upstream = only_upstream(mock)
    fmt = upstream["text"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["name"] == sent["json_schema"]["name"] == "CityReport"
    assert fmt["strict"] is True
    assert fmt["schema"] == sent["json_schema"]["schema"]
    assert fmt["schema"]["additionalProperties"] is False
    assert set(fmt) <= {"type", "name", "schema", "strict", "description"}

    # The streaming helper parses the same answer.
    mock.reply_sse(Codex("resp_so2").message(pieces(text, 4)).complete())
    with client.chat.completions.stream(
        model=MODEL, messages=[user("report on Oslo as JSON")], response_format=CityReport
    ) as stream:
        done = [e for e in stream if e.type == "content.done"]
        final = stream.get_final_completion()
    assert len(done) == 1 and done[0].parsed == report
    assert final.choices[0].message.parsed == report
    assert upstream_bodies(mock)[-1]["text"]["format"] == fmt


# ---------------------------------------------------------------------------------------------- chat: reasoning


@pytest.mark.parametrize("stream_first", [False, True], ids=["plain", "streamed"])
def test_tool_loop_sends_the_remembered_reasoning_back_upstream(
    client: openai.OpenAI, mock: Mock, stream_first: bool
) -> None:
    args = {"city": "Oslo", "unit": "c"}
    summary = "Need the weather first."
    mock.reply_sse(
        Codex("resp_loop1")
        .reasoning(pieces(summary, 2), "ENC-PY-1")
        .function_call("call_py_1", "GetWeather", pieces(json.dumps(args), 3))
        .complete(reasoning_tokens=5)
    )
    tools = [openai.pydantic_function_tool(GetWeather)]
    messages: list[Any] = [user("What's the weather in Oslo?")]
    if stream_first:
        with client.chat.completions.stream(model=MODEL, messages=messages, tools=tools) as stream:
            first = stream.get_final_completion()
    else:
        first = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    assert first.choices[0].finish_reason == "tool_calls"
    assistant = first.choices[0].message
    assert [c.id for c in assistant.tool_calls or []] == ["call_py_1"]

    # The agent runs the tool and replays the history, passing the SDK's own message object back.
    messages += [assistant, {"role": "tool", "tool_call_id": "call_py_1", "content": "-3 C, snow"}]
    mock.reply_sse(
        Codex("resp_loop2").reasoning(["Snow, cold."], "ENC-PY-2").message(["It is -3 C ", "and snowing."]).complete()
    )
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    assert second.choices[0].message.content == "It is -3 C and snowing."

    bodies = upstream_bodies(mock)
    assert len(bodies) == 2
    assert not any(item_kind(i) == "reasoning" for i in bodies[0]["input"])
    items = bodies[1]["input"]
    assert [item_kind(i) for i in items] == ["message", "reasoning", "function_call", "function_call_output"]
    assert items[1]["encrypted_content"] == "ENC-PY-1"
    assert items[1]["summary"] == [{"type": "summary_text", "text": summary}]
    assert items[2]["call_id"] == "call_py_1" and items[2]["name"] == "GetWeather"
    assert json.loads(items[2]["arguments"]) == args
    assert items[3]["call_id"] == "call_py_1"
    assert "reasoning.encrypted_content" in bodies[1]["include"]

    # Turn three: the answer text of turn two brings its own reasoning back, in front of that message.
    messages += [second.choices[0].message, user("And tomorrow?")]
    client.chat.completions.create(model=MODEL, messages=messages, tools=tools)
    items = upstream_bodies(mock)[-1]["input"]
    kinds = [item_kind(i) for i in items]
    assert kinds == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "message",
        "message",
    ], kinds
    assert items[1]["encrypted_content"] == "ENC-PY-1"
    assert items[4]["encrypted_content"] == "ENC-PY-2"
    assert items[5]["role"] == "assistant" and input_text(items[5]) == "It is -3 C and snowing."


# ---------------------------------------------------------------------------------------------- responses: create


def assert_normalised_upstream(body: dict[str, Any]) -> None:
    """What the backend requires of every request, whatever the client sent."""
    assert body["store"] is False
    assert body["stream"] is True
    assert "reasoning.encrypted_content" in body.get("include", [])
    for field in ("max_output_tokens", "temperature", "top_p", "previous_response_id", "truncation", "metadata"):
        assert field not in body, f"{field} must not reach the backend: {body[field]!r}"


@over_tcp_too
def test_responses_create_with_string_input(client: openai.OpenAI, http: httpx.Client, mock: Mock) -> None:
    text = "hello from the responses api"
    response = client.responses.create(
        model=MODEL, input=text, temperature=0.2, top_p=0.9, max_output_tokens=64, metadata={"k": "v"}
    )
    assert isinstance(response, Response)
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == MODEL
    assert response.id
    assert response.output_text == echo(text)
    assert response.usage is not None and response.usage.total_tokens > 0

    upstream = only_upstream(mock)
    assert_normalised_upstream(upstream)
    assert upstream["model"] == MODEL
    assert [item_kind(i) for i in upstream["input"]] == ["message"]
    assert upstream["input"][0]["role"] == "user" and input_text(upstream["input"][0]) == text

    # Over raw HTTP: a JSON body, not a stream.
    resp = http.post(RESPONSES_PATH, json={"model": MODEL, "input": text})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.json()["output"][0]["content"][0]["text"] == echo(text)


def test_responses_create_with_system_developer_and_user_items(client: openai.OpenAI, mock: Mock) -> None:
    response = client.responses.create(
        model=MODEL,
        input=[
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": "Answer in English."},
            {"role": "user", "content": [{"type": "input_text", "text": "what now?"}]},
        ],
        temperature=0.5,
        max_output_tokens=128,
    )
    assert response.output_text == echo("what now?")
    upstream = only_upstream(mock)
    assert_normalised_upstream(upstream)
    assert upstream["instructions"] == "You are terse."
    assert [i.get("role") for i in upstream["input"]] == ["developer", "user"]
    assert input_text(upstream["input"][0]) == "Answer in English."
    assert input_text(upstream["input"][1]) == "what now?"


def test_responses_object_is_the_backend_object_and_schema_valid(
    client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema
) -> None:
    """With a complete backend answer, the assembled object keeps every field of the backend's final response."""
    events = Codex("resp_whole").reasoning(["Short."], "ENC-W").message(["All ", "good."]).complete(reasoning_tokens=3)
    mock.reply_sse(events)
    resp = http.post(RESPONSES_PATH, json={"model": MODEL, "input": "status?"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert_superset(body, events[-1]["response"])
    Response.model_validate(body)
    schema.validate("Response", body)

    mock.reply_sse(events)
    response = client.responses.create(model=MODEL, input="status?")
    assert response.output_text == "All good."
    assert [o.type for o in response.output] == ["reasoning", "message"]
    assert response.output[0].encrypted_content == "ENC-W"


def test_responses_object_for_the_mock_echo_validates_strictly(
    client: openai.OpenAI, http: httpx.Client, schema: Schema
) -> None:
    """The assembled object for the mock's own (backend-shaped) answer, against the SDK model and the schema.

    The backend's final objects can be thin; the server fills what a Responses client expects to find, so
    what it returns must be a valid `Response` as the SDK and the OpenAPI document define it.
    """
    raw = client.responses.with_raw_response.create(model=MODEL, input="validate me")
    body = raw.http_response.json()
    assert raw.parse().output_text == echo("validate me")
    problems = []
    try:
        Response.model_validate(body)
    except ValueError as e:
        problems.append(f"SDK Response model: {e}")
    try:
        schema.validate("Response", body)
    except AssertionError as e:
        problems.append(f"OpenAPI: {e}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------- responses: stream


def assert_superset(got: Any, want: Any, at: str = "$") -> None:
    """Every field of `want` is in `got` with the same value; `got` may carry more (filled defaults)."""
    if isinstance(want, dict):
        assert isinstance(got, dict), f"{at}: {got!r}"
        for k, v in want.items():
            assert k in got, f"{at}.{k} dropped"
            assert_superset(got[k], v, f"{at}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{at}: {got!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_superset(g, w, f"{at}[{i}]")
    else:
        assert got == want, f"{at}: {got!r} != {want!r}"


def test_responses_stream_keeps_every_backend_field(
    client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema
) -> None:
    text_deltas = ["The answer ", "is ", "forty-two."]
    events = (
        Codex("resp_stream")
        .reasoning(["Thinking ", "it over."], "ENC-S")
        .message(text_deltas)
        .function_call("call_s", "GetTime", pieces('{"timezone":"UTC"}', 3))
        .complete(reasoning_tokens=4)
    )

    # The SDK's plain stream: the same events, in the same order, with the same content.
    mock.reply_sse(events)
    got = list(client.responses.create(model=MODEL, input="what is it?", stream=True, max_output_tokens=10))
    assert [e.type for e in got] == [e["type"] for e in events]
    for g, sent in zip(got, events):
        assert_superset(g.to_dict(), sent)
    assert "".join(e.delta for e in got if e.type == "response.output_text.delta") == "".join(text_deltas)
    assert_normalised_upstream(upstream_bodies(mock)[-1])

    # Raw: one `event:` name per frame, equal to the data's type; the data is the backend's event.
    mock.reply_sse(events)
    resp, frames = responses_sse(http, {"model": MODEL, "input": "what is it?", "stream": True})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert len(frames) == len(events)
    for i, ((name, data), sent) in enumerate(zip(frames, events)):
        event = json.loads(data)
        assert_superset(event, sent)
        assert event["sequence_number"] == i
        assert name == event["type"]
        validate_stream_event(schema, event)

    # The SDK's stream helper assembles the final response from them.
    mock.reply_sse(events)
    with client.responses.stream(model=MODEL, input="what is it?") as stream:
        types = [e.type for e in stream]
        final = stream.get_final_response()
    assert types == [e["type"] for e in events]
    assert final.output_text == "".join(text_deltas)
    assert [o.type for o in final.output] == ["reasoning", "message", "function_call"]
    assert final.output[2].arguments == '{"timezone":"UTC"}'


@over_tcp_too
def test_responses_stream_of_the_mock_echo(client: openai.OpenAI, mock: Mock) -> None:
    text = "stream this back"
    got = list(client.responses.create(model=MODEL, input=text, stream=True))
    assert got[0].type == "response.created"
    assert got[-1].type == "response.completed"
    assert "".join(e.delta for e in got if e.type == "response.output_text.delta") == echo(text)
    assert [e.sequence_number for e in got] == list(range(len(got)))
    assert_normalised_upstream(only_upstream(mock))


def test_responses_stream_cut_short_ends_with_a_valid_error_event(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    """The backend closes mid-answer: the client gets the events so far, then a Responses `error` event."""
    events = Codex("resp_cut").message(["partial ", "answer"]).events[:-3]  # up to the deltas
    mock.reply_raw([f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events])
    got = list(client.responses.create(model=MODEL, input="cut me off", stream=True))
    assert [e.type for e in got[:-1]] == [e["type"] for e in events]
    last = got[-1]
    assert last.type == "error"
    assert last.message
    validate_stream_event(schema, last.to_dict())


# ---------------------------------------------------------------------------------------------- responses: tools


def test_responses_function_tools_pass_through_flat(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    params = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    }
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": params,
        "strict": True,
    }
    args = {"city": "Oslo", "unit": "c"}
    raw = client.responses.with_raw_response.create(
        model=MODEL,
        input=f"mock:tool get_weather {json.dumps(args)}",
        tools=[tool],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    response = raw.parse()
    upstream = only_upstream(mock)
    assert upstream["tools"] == [tool]
    assert upstream["tool_choice"] == {"type": "function", "name": "get_weather"}
    calls = [o for o in response.output if o.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].call_id == "call_1" and calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == args

    for choice in ("auto", "none", "required"):
        client.responses.create(model=MODEL, input="x", tools=[tool], tool_choice=choice)
        assert upstream_bodies(mock)[-1]["tool_choice"] == choice

    # The function_call / function_call_output items of the next turn go upstream as given.
    client.responses.create(
        model=MODEL,
        tools=[tool],
        input=[
            {"role": "user", "content": "weather?"},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": json.dumps(args)},
            {"type": "function_call_output", "call_id": "call_1", "output": "-3 C"},
        ],
    )
    items = upstream_bodies(mock)[-1]["input"]
    assert [item_kind(i) for i in items] == ["message", "function_call", "function_call_output"]
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": json.dumps(args)}
    assert items[1] == call
    assert items[2] == {"type": "function_call_output", "call_id": "call_1", "output": "-3 C"}


# ---------------------------------------------------------------------------------------------- responses: errors


def test_responses_previous_response_id_is_refused(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="again", previous_response_id="resp_earlier")
    err = info.value
    assert err.status_code == 400
    body = err.response.json()
    schema.validate("ErrorResponse", body)
    assert body["error"]["param"] == "previous_response_id"
    assert body["error"]["type"] == "invalid_request_error"
    assert upstream_bodies(mock) == []


def test_responses_item_reference_is_refused(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=MODEL, input=[{"role": "user", "content": "hi"}, {"type": "item_reference", "id": "msg_123"}]
        )
    body = info.value.response.json()
    schema.validate("ErrorResponse", body)
    assert body["error"]["param"] == "input[1]"
    assert upstream_bodies(mock) == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_responses_usage_limit_is_rate_limit(client: openai.OpenAI, schema: Schema, stream: bool) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        result = client.responses.create(model=MODEL, input="mock:usage_limit", stream=stream)
        if stream:
            list(result)
    err = info.value
    assert err.status_code == 429
    retry_after = err.response.headers.get("retry-after")
    assert retry_after is not None and retry_after.isdigit() and 0 < int(retry_after) <= 3600
    body = err.response.json()
    schema.validate("ErrorResponse", body)
    assert body["error"]["code"] == "usage_limit_reached"


# ---------------------------------------------------------------------------------------------- models


def test_models_retrieve(client: openai.OpenAI, http: httpx.Client, schema: Schema) -> None:
    model = client.models.retrieve(MODEL)
    assert model.id == MODEL and model.object == "model"
    assert isinstance(model.created, int) and model.owned_by
    schema.validate("Model", http.get(f"/v1/models/{MODEL}").json())

    # An effort variant the catalog allows for the model is a model too; one it does not allow is not.
    assert client.models.retrieve(f"{MODEL}-high").id == f"{MODEL}-high"
    for missing in ("gpt-unknown-1", "gpt-5.6-luna-low"):
        with pytest.raises(openai.NotFoundError) as info:
            client.models.retrieve(missing)
        body = info.value.response.json()
        schema.validate("ErrorResponse", body)
        assert missing in body["error"]["message"]
