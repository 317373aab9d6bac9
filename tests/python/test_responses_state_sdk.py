"""State the Codex backend does not keep, through the official SDK (issue 9): `previous_response_id` chains,
kept responses (`retrieve` / `delete`), compaction, schema-valid streams, and WebSocket mode.

The backend runs with `store: false` and refuses `previous_response_id`, so codex-serve keeps each finished
conversation itself and sends the whole history upstream on the next turn. These tests check what reaches
the mock backend (`mock.requests()`), and that every object and event the client gets is valid under both
the SDK's models and the OpenAPI document (`schema`). WebSocket mode goes through the SDK's own
`client.responses.connect()`, pointed at the Unix socket through its native `websockets` options.
"""

from __future__ import annotations

import json
import typing
import warnings
from typing import Any, Iterable

import httpx
import openai
import pydantic
import pytest
from openai.types.responses import (
    Response,
    ResponsesServerEvent,
    ResponseStreamEvent,
)

from conftest import Mock, Schema, SchemaUnavailable, Server, over_tcp_too
from test_fidelity_sdk import Codex

MODEL = "gpt-6.2-sol"
TERMINAL = ("response.completed", "response.incomplete", "response.failed")
# What the mock answers `mock:reasoning ...` with, before the echo.
MOCK_SUMMARY = "thinking about it"


def _sdk_members(union: Any) -> dict[str, pydantic.TypeAdapter]:
    """The SDK models of an event union (`Annotated[Union[...], discriminator]`), by their `type` value."""
    members: dict[str, pydantic.TypeAdapter] = {}
    for model in typing.get_args(typing.get_args(union)[0]):
        for kind in typing.get_args(model.model_fields["type"].annotation):
            members.setdefault(kind, pydantic.TypeAdapter(model))
    return members


_STREAM_EVENT = _sdk_members(ResponseStreamEvent)
_SERVER_EVENT = _sdk_members(ResponsesServerEvent)


# ---------------------------------------------------------------------------------------------- helpers


def echo(text: str) -> str:
    return f"echo: {text}"


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def upstream(mock: Mock, path: str = "/responses") -> list[dict[str, Any]]:
    """What the backend received on `path`, in order: `{path, headers, body}`."""
    return [r for r in mock.requests() if r["path"] == path]


def upstream_inputs(mock: Mock) -> list[list[dict[str, Any]]]:
    return [r["body"]["input"] for r in upstream(mock)]


def text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [])


def shape(items: Iterable[dict[str, Any]]) -> list[str]:
    """`type:role` of each item, e.g. `message:user`, `reasoning:`."""
    return [f"{i.get('type', 'message')}:{i.get('role', '')}" for i in items]


def schema_problems(schema: Schema, name: str, obj: Any, label: str) -> list[str]:
    """Why `obj` is not a valid `name`, one line per error (path and shortened message); empty when valid."""
    if not schema.available:
        warnings.warn(schema.reason, SchemaUnavailable, stacklevel=2)
        return []
    from jsonschema.exceptions import best_match

    lines = []
    for top in sorted(schema.validator(name).iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        err = best_match([top])  # into anyOf/oneOf, to the likeliest branch's own error
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        message = err.message if len(err.message) <= 400 else err.message[:400] + "..."
        lines.append(f"{label}: not a valid {name} at {where}: {message}")
    return lines


def sdk_problems(adapter: pydantic.TypeAdapter | dict[str, pydantic.TypeAdapter], obj: Any, label: str) -> list[str]:
    """How the SDK's own model (strictly validated) rejects `obj`; for an event union, the member of its type."""
    if isinstance(adapter, dict):
        member = adapter.get(obj.get("type", ""))
        if member is None:
            return [f"{label}: the SDK has no event model of type {obj.get('type')!r}"]
        adapter = member
    try:
        adapter.validate_python(obj)
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        where = "/".join(str(p) for p in first["loc"])
        return [f"{label}: SDK model rejects it ({e.error_count()} error(s)), first at {where}: {first['msg']}"]
    return []


def event_problems(schema: Schema, events: list[dict[str, Any]], websocket: bool = False) -> list[str]:
    """Checks a whole event sequence of one turn: each event against its own `ResponseStreamEvent` member,
    the union, and the SDK's models; sequence numbers 0, 1, 2...; one response id; complete objects."""
    problems: list[str] = []
    for i, ev in enumerate(events):
        kind = ev.get("type", "")
        label = f"event {i} ({kind})"
        own: list[str] = []
        if schema.available:
            member = schema.union_member("ResponseStreamEvent", kind)
            if member is None:
                own.append(f"{label}: not a ResponseStreamEvent type")
            else:
                own += schema_problems(schema, member, ev, label)
        # The unions only add news when the event is valid under its own member.
        unions = ["ResponseStreamEvent"] + (["ResponsesServerEvent"] if websocket else [])
        problems += own or [p for u in unions for p in schema_problems(schema, u, ev, label)]
        problems += sdk_problems(_STREAM_EVENT, ev, label)
        if websocket:
            problems += sdk_problems(_SERVER_EVENT, ev, label)
        if ev.get("sequence_number") != i:
            problems.append(f"{label}: sequence_number {ev.get('sequence_number')!r}, expected {i}")
    if not events:
        return ["no events"]
    if events[0].get("type") != "response.created":
        problems.append(f"the first event is {events[0].get('type')!r}, not response.created")
    ids = {ev["response"].get("id") for ev in events if isinstance(ev.get("response"), dict)}
    if len(ids) != 1:
        problems.append(f"response ids across events: {ids}")
    for i, ev in enumerate(events):
        if ev.get("type") in ("response.created", "response.in_progress"):
            r = ev["response"]
            if r.get("status") != "in_progress" or r.get("output") != []:
                problems.append(f"event {i} ({ev['type']}): status {r.get('status')!r}, output {r.get('output')!r}")
    return problems


def check_turn(schema: Schema, events: list[dict[str, Any]], websocket: bool = False) -> dict[str, Any]:
    """Asserts the events of one turn are valid and consistent; returns the terminal response object."""
    problems = event_problems(schema, events, websocket)
    assert not problems, "schema/SDK failures:\n" + "\n".join(problems)
    last = events[-1]
    assert last["type"] in TERMINAL, f"the turn ended with {last['type']!r}"
    assert sum(ev["type"] in TERMINAL for ev in events) == 1
    final = last["response"]
    assert final["status"] == last["type"].removeprefix("response.")
    # The terminal object holds exactly the items announced as done, in output_index order.
    done = {ev["output_index"]: ev["item"] for ev in events if ev["type"] == "response.output_item.done"}
    assert final["output"] == [done[i] for i in sorted(done)], "terminal output != output_item.done items"
    # Part events name the item they belong to; text deltas add up to the done text.
    added = {ev["output_index"]: ev["item"]["id"] for ev in events if ev["type"] == "response.output_item.added"}
    for ev in events:
        if "item_id" in ev:
            assert ev["item_id"] == added.get(ev["output_index"]), f"item_id of {ev}"
    for ev in events:
        if ev["type"] == "response.output_text.done":
            deltas = [
                d["delta"]
                for d in events
                if d["type"] == "response.output_text.delta"
                and (d["item_id"], d["content_index"]) == (ev["item_id"], ev["content_index"])
            ]
            assert "".join(deltas) == ev["text"]
    return final


def assert_response_valid(schema: Schema, body: dict[str, Any]) -> Response:
    problems = sdk_problems(pydantic.TypeAdapter(Response), body, "response")
    problems += schema_problems(schema, "Response", body, "response")
    assert not problems, "\n".join(problems)
    return Response.model_validate(body)


def create_raw(client: openai.OpenAI, **params: Any) -> tuple[Response, dict[str, Any]]:
    """`client.responses.create`, returning the SDK object and the JSON as sent."""
    raw = client.responses.with_raw_response.create(**params)
    return raw.parse(), raw.http_response.json()


def error_body(err: openai.APIStatusError, schema: Schema) -> dict[str, Any]:
    body = err.response.json()
    schema.validate("ErrorResponse", body)
    return body["error"]


def weather_tool() -> dict[str, Any]:
    """A function tool as the SDK's `FunctionToolParam` requires it (`strict` and `parameters` given)."""
    params = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}
    return {"type": "function", "name": "get_weather", "description": "Weather.", "parameters": params, "strict": False}


def failed_events(resp_id: str, code: str = "server_error", message: str = "busy") -> list[dict[str, Any]]:
    """A backend answer that fails after it started: created, in_progress, failed."""
    seq = Codex(resp_id)
    failed = seq.response("failed", [])
    failed["error"] = {"code": code, "message": message}
    return seq.events + [{"type": "response.failed", "response": failed, "sequence_number": len(seq.events)}]


def stream_events(client: openai.OpenAI, **params: Any) -> list[dict[str, Any]]:
    """`client.responses.create(stream=True)`, every event exactly as the server sent it (the SDK's parsed
    events turn integers into floats where its models say `float`; see
    `test_sdk_stream_events_are_the_server_json` for the parsed stream). Each SSE `event:` name must be
    the data's `type`."""
    events: list[dict[str, Any]] = []
    with client.responses.with_streaming_response.create(stream=True, **params) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        name: str | None = None
        for line in resp.iter_lines():
            if line.startswith("event:"):
                name = line[len("event:") :].strip()
            elif line.startswith("data:"):
                event = json.loads(line[len("data:") :])
                assert name == event.get("type"), f"SSE event name {name!r} for {event.get('type')!r}"
                events.append(event)
                name = None
    return events


# ---------------------------------------------------------------------------------------------- 1. chains


@over_tcp_too
def test_three_turn_chain_sends_the_whole_history_with_reasoning(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    first, body1 = create_raw(client, model=MODEL, input="mock:reasoning first question")
    assert [o.type for o in first.output] == ["reasoning", "message"]
    encrypted = first.output[0].encrypted_content
    assert encrypted, "turn 1 brought no encrypted reasoning"
    assert first.previous_response_id is None
    assert_response_valid(schema, body1)

    second, body2 = create_raw(client, model=MODEL, input="second", previous_response_id=first.id)
    assert second.id != first.id
    assert second.previous_response_id == first.id
    assert second.output_text == echo("second")
    assert_response_valid(schema, body2)

    third, body3 = create_raw(client, model=MODEL, input=[user("third")], previous_response_id=second.id)
    assert third.id not in (first.id, second.id)
    assert third.previous_response_id == second.id
    assert third.output_text == echo("third")
    assert_response_valid(schema, body3)

    requests = upstream(mock)
    assert len(requests) == 3
    inputs = [r["body"]["input"] for r in requests]
    assert shape(inputs[0]) == ["message:user"]
    assert shape(inputs[1]) == ["message:user", "reasoning:", "message:assistant", "message:user"]
    assert shape(inputs[2]) == [
        "message:user",
        "reasoning:",
        "message:assistant",
        "message:user",
        "message:assistant",
        "message:user",
    ]
    # Each turn's input starts with the previous turn's input, unchanged: a prefix the backend can cache.
    assert inputs[2][: len(inputs[1])] == inputs[1]
    assert inputs[1][:1] == inputs[0]
    reasoning = inputs[2][1]
    assert reasoning["encrypted_content"] == encrypted
    assert [p["text"] for p in reasoning.get("summary", [])] == [MOCK_SUMMARY]
    assert [text_of(i) for i in inputs[2] if i.get("type", "message") == "message"] == [
        "mock:reasoning first question",
        echo("first question"),
        "second",
        echo("second"),
        "third",
    ]
    # One conversation, one prompt-cache key (and session header) on every turn.
    keys = {r["body"].get("prompt_cache_key") for r in requests}
    assert len(keys) == 1 and None not in keys, keys
    assert {r["headers"].get("session-id") for r in requests} == keys
    for r in requests:
        assert "previous_response_id" not in r["body"], "previous_response_id reached the backend"
        assert r["body"]["store"] is False
        assert "reasoning.encrypted_content" in r["body"].get("include", [])


def test_chain_through_a_tool_call_and_a_streamed_turn(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    """A function call is replayed as a call, the tool's output follows it; a streamed turn chains too."""
    tool = weather_tool()
    args = {"city": "Oslo"}
    asked = client.responses.create(model=MODEL, input=f"mock:tool get_weather {json.dumps(args)}", tools=[tool])
    call = next(o for o in asked.output if o.type == "function_call")
    mock.reply_sse(Codex("resp_py_weather").message(["It is ", "-3 C."]).complete())
    events = stream_events(
        client,
        model=MODEL,
        tools=[tool],
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "-3 C"}],
    )
    streamed = check_turn(schema, events)
    assert streamed["previous_response_id"] == asked.id
    assert streamed["output"][0]["content"][0]["text"] == "It is -3 C."
    last = client.responses.create(model=MODEL, input="and tomorrow?", previous_response_id=streamed["id"])
    assert last.output_text == echo("and tomorrow?")

    items = upstream_inputs(mock)[-1]
    assert shape(items) == [
        "message:user",
        "function_call:",
        "function_call_output:",
        "message:assistant",
        "message:user",
    ]
    assert items[1] == {
        "type": "function_call",
        "call_id": call.call_id,
        "name": "get_weather",
        "arguments": call.arguments,
    }
    assert json.loads(items[1]["arguments"]) == args
    assert items[2]["call_id"] == call.call_id and items[2]["output"] == "-3 C"


# ---------------------------------------------------------------------------------------------- 2. kept responses


def test_unknown_previous_response_id_is_previous_response_not_found(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="again", previous_response_id="resp_never_seen")
    err = info.value
    assert err.status_code == 400
    assert err.code == "previous_response_not_found"
    assert err.param == "previous_response_id"
    body = error_body(err, schema)
    assert body["type"] == "invalid_request_error"
    assert "resp_never_seen" in body["message"]
    assert upstream(mock) == [], "nothing may go upstream for an unknown id"


def test_store_false_is_neither_kept_nor_continuable(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    secret = client.responses.create(model=MODEL, input="secret", store=False)
    assert secret.output_text == echo("secret")
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(secret.id)
    error_body(info.value, schema)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="x", previous_response_id=secret.id)
    assert info.value.code == "previous_response_not_found"
    # Streamed, the same.
    events = stream_events(client, model=MODEL, input="streamed secret", store=False)
    final = check_turn(schema, events)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(final["id"])
    assert len(upstream(mock)) == 2


def test_retrieve_and_delete_kept_responses(
    client: openai.OpenAI, http: httpx.Client, mock: Mock, schema: Schema
) -> None:
    kept, body = create_raw(client, model=MODEL, input="mock:reasoning keep me")
    got = client.responses.retrieve(kept.id)
    assert isinstance(got, Response)
    assert got.to_dict() == kept.to_dict()
    raw = http.get(f"/v1/responses/{kept.id}")
    assert raw.status_code == 200
    assert raw.json() == body
    assert_response_valid(schema, raw.json())

    # The SDK's delete expects an empty 200 and returns None; a JSON body is read past.
    assert client.responses.delete(kept.id) is None
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(kept.id)
    assert kept.id in error_body(info.value, schema)["message"]
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.delete(kept.id)
    error_body(info.value, schema)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="x", previous_response_id=kept.id)
    assert info.value.code == "previous_response_not_found"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_never_seen")

    # What our DELETE answers, over raw HTTP: 200 with OpenAI's deletion object.
    other = client.responses.create(model=MODEL, input="delete me raw")
    resp = http.delete(f"/v1/responses/{other.id}")
    assert resp.status_code == 200
    assert resp.json() == {"id": other.id, "object": "response.deleted", "deleted": True}


def test_failed_and_incomplete_turns_are_not_continuation_points(
    client: openai.OpenAI, mock: Mock, schema: Schema
) -> None:
    mock.reply_sse(failed_events("resp_py_failing", code="server_is_overloaded"))
    with pytest.raises(openai.APIStatusError) as info:
        client.responses.create(model=MODEL, input="fail please")
    assert info.value.status_code == 503
    assert info.value.code == "server_is_overloaded"

    incomplete = client.responses.create(model=MODEL, input="mock:fixture incomplete_max_tokens")
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens"

    mock.reply_sse(failed_events("resp_py_failed_stream"))
    streamed = check_turn(schema, stream_events(client, model=MODEL, input="fail while streaming"))
    assert streamed["status"] == "failed" and streamed["error"]["code"] == "server_error"

    for gone in ("resp_py_failing", incomplete.id, streamed["id"]):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(gone)
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model=MODEL, input="go on", previous_response_id=gone)
        assert info.value.code == "previous_response_not_found", gone
    assert len(upstream(mock)) == 3


# ---------------------------------------------------------------------------------------------- 3. compaction


def test_compact_a_kept_conversation_with_the_sdk(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    first = client.responses.create(model=MODEL, input="mock:reasoning a long conversation")
    compacted = client.responses.compact(
        model=MODEL, previous_response_id=first.id, input=[user("and more")], instructions="Be brief."
    )
    assert compacted.output[0].type == "message"
    assert compacted.output[0].content[0].text == "Summary of 4 earlier items."

    calls = upstream(mock, "/responses/compact")
    assert len(calls) == 1
    body = calls[0]["body"]
    assert body["model"] == MODEL
    assert shape(body["input"]) == ["message:user", "reasoning:", "message:assistant", "message:user"]
    assert body["input"][1]["encrypted_content"] == first.output[0].encrypted_content
    assert text_of(body["input"][3]) == "and more"
    assert body["instructions"] == "Be brief."
    assert "previous_response_id" not in body
    # The same credentials as /responses.
    responses_headers = upstream(mock)[0]["headers"]
    assert calls[0]["headers"]["authorization"] == responses_headers["authorization"]
    assert calls[0]["headers"]["chatgpt-account-id"] == responses_headers["chatgpt-account-id"]

    # Input alone, no previous response.
    client.responses.compact(model=MODEL, input="just this")
    body = upstream(mock, "/responses/compact")[-1]["body"]
    assert shape(body["input"]) == ["message:user"] and text_of(body["input"][0]) == "just this"

    with pytest.raises(openai.BadRequestError) as info:
        client.responses.compact(model=MODEL, previous_response_id="resp_never_seen")
    assert info.value.code == "previous_response_not_found"
    error_body(info.value, schema)
    assert len(upstream(mock, "/responses/compact")) == 2


def test_compact_input_errors(http: httpx.Client, mock: Mock, schema: Schema) -> None:
    resp = http.post("/v1/responses/compact", json={"input": "no model"})
    assert resp.status_code == 400
    schema.validate("ErrorResponse", resp.json())
    assert resp.json()["error"]["param"] == "model"
    resp = http.post("/v1/responses/compact", json={"model": " ", "input": "blank model"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "model"
    resp = http.post("/v1/responses/compact", json={"model": MODEL})
    assert resp.status_code == 400
    schema.validate("ErrorResponse", resp.json())
    assert resp.json()["error"]["param"] == "input"
    resp = http.post("/v1/responses/compact", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    schema.validate("ErrorResponse", resp.json())
    assert upstream(mock, "/responses/compact") == []


def test_compact_backend_errors_are_mapped(client: openai.OpenAI, mock: Mock, schema: Schema) -> None:
    mock.reply_status(
        429,
        {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached", "plan_type": "plus"}},
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.compact(model=MODEL, input="too much")
    assert info.value.code == "usage_limit_reached"
    error_body(info.value, schema)

    mock.reply_status(400, {"detail": "Unsupported model"})
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.compact(model=MODEL, input="bad model")
    assert "Unsupported model" in error_body(info.value, schema)["message"]


def test_compact_answer_is_a_compact_resource(client: openai.OpenAI, http: httpx.Client, schema: Schema) -> None:
    """`POST /v1/responses/compact` promises a `CompactResource` (`id`, `object: response.compaction`,
    `created_at`, `output`, `usage`). Where the backend's answer
    is thinner, the server should fill the documented fields rather than pass on an invalid object."""
    resp = http.post("/v1/responses/compact", json={"model": MODEL, "input": "compact me"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    problems = schema_problems(schema, "CompactResource", body, "compact answer")
    assert not problems, "\n".join(problems) + f"\nbody: {json.dumps(body)}"
    # The SDK types `output` as assistant output items although a compaction returns the user's messages
    # (its own docstring says so), so strict pydantic validation fails even for OpenAI's example answer;
    # the SDK's own (lenient) parse is what clients use.
    parsed = client.responses.compact(model=MODEL, input="compact me")
    assert parsed.object == "response.compaction" and parsed.id and parsed.usage is not None


def test_compaction_output_feeds_the_next_turn(client: openai.OpenAI, mock: Mock) -> None:
    """The documented use of a compaction: its output (here the backend's opaque `compaction` item, as in
    OpenAI's own example answer) is the input of the next turn, and must reach the backend as it came."""
    item = {"type": "compaction", "id": "cmp_py_1", "encrypted_content": "ENC-COMPACTED"}
    kept = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "earlier question"}]}
    mock.reply_status(200, {"output": [kept, item]})
    raw = client.responses.with_raw_response.compact(model=MODEL, input="a long history")
    assert [o.type for o in raw.parse().output] == ["message", "compaction"]

    next_input = raw.http_response.json()["output"] + [user("continue")]
    response = client.responses.create(model=MODEL, input=next_input)
    assert response.output_text == echo("continue")
    sent = upstream_inputs(mock)[-1]
    assert shape(sent) == ["message:user", "compaction:", "message:user"]
    assert sent[1]["encrypted_content"] == "ENC-COMPACTED"


# ---------------------------------------------------------------------------------------------- 4. streams


TOOL_ARGS = {"city": "Oslo", "unit": "c"}
STREAM_CASES = {
    "echo": ("stream this back", echo("stream this back")),
    "mock_reasoning": ("mock:reasoning think first", echo("think first")),
    "mock_tool": (f"mock:tool get_weather {json.dumps(TOOL_ARGS)}", ""),
    "fixture_text": ("mock:fixture text", "The capital of France is Paris."),
    "fixture_reasoning": ("mock:fixture reasoning", None),
    "fixture_utf8": ("mock:fixture utf8", "héllo wörld — 日本語 🎉"),
    "fixture_incomplete_max_tokens": ("mock:fixture incomplete_max_tokens", None),
    "fixture_failed_context_window": ("mock:fixture failed_context_window", ""),
}


@pytest.mark.parametrize("case", list(STREAM_CASES))
def test_every_stream_event_is_schema_valid(client: openai.OpenAI, mock: Mock, schema: Schema, case: str) -> None:
    prompt, text = STREAM_CASES[case]
    events = stream_events(client, model=MODEL, input=prompt, tools=[weather_tool()] if "tool" in case else [])
    final = check_turn(schema, events)
    assert upstream(mock)[-1]["body"]["stream"] is True

    types = [ev["type"] for ev in events]
    if text is not None:
        deltas = "".join(ev["delta"] for ev in events if ev["type"] == "response.output_text.delta")
        assert deltas == text
    if case == "mock_tool":
        done = next(ev for ev in events if ev["type"] == "response.function_call_arguments.done")
        assert done["name"] == "get_weather" and json.loads(done["arguments"]) == TOOL_ARGS
        assert [o["type"] for o in final["output"]] == ["function_call"]
    if "reasoning" in case:
        assert "response.reasoning_summary_text.delta" in types
        assert final["output"][0]["type"] == "reasoning" and final["output"][0]["encrypted_content"]
    if case == "fixture_incomplete_max_tokens":
        assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    if case == "fixture_failed_context_window":
        # The schema's ResponseErrorCode has no context_length_exceeded: the nearest documented code, with
        # the backend's own code kept at the head of the message.
        assert final["error"]["code"] == "invalid_prompt"
        assert final["error"]["message"].startswith("[context_length_exceeded] ")

    # A completed stream is kept as the client saw it; the others are not.
    if final["status"] == "completed":
        assert client.responses.retrieve(final["id"]).to_dict() == final
    else:
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(final["id"])


def test_sdk_stream_events_are_the_server_json(client: openai.OpenAI) -> None:
    """The SDK's parsed stream carries the same events as the raw one the stream tests validate."""
    parsed = list(client.responses.create(model=MODEL, input="mock:fixture reasoning", stream=True))
    raw = stream_events(client, model=MODEL, input="mock:fixture reasoning")
    assert [type(e).__name__ for e in parsed][:3] == [
        "ResponseCreatedEvent",
        "ResponseInProgressEvent",
        "ResponseOutputItemAddedEvent",
    ]
    assert [e.to_dict() for e in parsed] == raw


# ---------------------------------------------------------------------------------------------- 5. WebSocket


def ws_connect(client: openai.OpenAI, server: Server):
    """The SDK's Responses WebSocket (`GET /v1/responses` upgraded), over the server's Unix socket: the SDK
    passes its connection options on to `websockets.sync.client.connect`, whose `unix`/`path` keywords are
    what `websockets.sync.client.unix_connect` uses (websockets 13-15, the range `openai[realtime]` takes).

    A client on the TCP listener (`over_tcp_too`) connects to `ws://127.0.0.1:PORT/v1/responses` as it
    would to OpenAI, sending its `api_key` (the server's key) as `Authorization: Bearer`."""
    if server.tcp and client.base_url.netloc.decode() == server.tcp:
        return client.responses.connect()
    return client.responses.connect(websocket_connection_options={"unix": True, "path": server.socket})


def ws_read_turn(conn: Any) -> list[dict[str, Any]]:
    """Frames up to and including the turn's terminal event or an error frame; each also parsed by the SDK."""
    frames: list[dict[str, Any]] = []
    while True:
        raw = conn.recv_bytes()
        frame = json.loads(raw)
        parsed = conn.parse_event(raw)
        assert parsed.type == frame["type"]
        frames.append(frame)
        if frame["type"] in TERMINAL or frame["type"] == "error":
            return frames


def ws_turn(conn: Any, **params: Any) -> list[dict[str, Any]]:
    conn.response.create(**params)
    return ws_read_turn(conn)


def check_ws_error(schema: Schema, frame: dict[str, Any], status: int) -> dict[str, Any]:
    assert frame["type"] == "error", frame
    assert frame["status"] == status, frame
    problems = schema_problems(schema, "ResponseWsError", frame, "error frame")
    problems += schema_problems(schema, "ResponsesServerEvent", frame, "error frame")
    problems += sdk_problems(_SERVER_EVENT, frame, "error frame")
    assert not problems, "\n".join(problems)
    assert frame["error"]["message"]
    return frame["error"]


@over_tcp_too
def test_websocket_conversation_of_several_turns(
    client: openai.OpenAI, server: Server, mock: Mock, schema: Schema
) -> None:
    with ws_connect(client, server) as conn:
        t1 = ws_turn(conn, model=MODEL, input="mock:reasoning hello socket")
        r1 = check_turn(schema, t1, websocket=True)
        assert r1["status"] == "completed"
        assert [o["type"] for o in r1["output"]] == ["reasoning", "message"]
        assert "".join(f["delta"] for f in t1 if f["type"] == "response.output_text.delta") == echo("hello socket")

        t2 = ws_turn(conn, model=MODEL, input="again", previous_response_id=r1["id"])
        r2 = check_turn(schema, t2, websocket=True)
        assert r2["previous_response_id"] == r1["id"] and r2["id"] != r1["id"]
        assert shape(upstream_inputs(mock)[-1]) == [
            "message:user",
            "reasoning:",
            "message:assistant",
            "message:user",
        ]
        assert upstream_inputs(mock)[-1][1]["encrypted_content"] == r1["output"][0]["encrypted_content"]

        # A tool call on the socket, answered on the next turn.
        ask = f"mock:tool get_weather {json.dumps(TOOL_ARGS)}"
        t3 = ws_turn(conn, model=MODEL, input=ask, previous_response_id=r2["id"], tools=[weather_tool()])
        r3 = check_turn(schema, t3, websocket=True)
        call = r3["output"][0]
        answer = {"type": "function_call_output", "call_id": call["call_id"], "output": "-3 C"}
        t4 = ws_turn(conn, model=MODEL, input=[answer], previous_response_id=r3["id"])
        r4 = check_turn(schema, t4, websocket=True)
        assert shape(upstream_inputs(mock)[-1]) == [
            "message:user",
            "reasoning:",
            "message:assistant",
            "message:user",
            "message:assistant",
            "message:user",
            "function_call:",
            "function_call_output:",
        ]
        for r in upstream(mock):
            assert "previous_response_id" not in r["body"]

    # Kept responses made on a socket are the same store as HTTP's.
    assert client.responses.retrieve(r4["id"]).to_dict() == r4


def test_websocket_failed_turn_and_bad_frames(
    client: openai.OpenAI, server: Server, mock: Mock, schema: Schema
) -> None:
    with ws_connect(client, server) as conn:
        r1 = check_turn(schema, ws_turn(conn, model=MODEL, input="first"), websocket=True)

        # A failed turn: its events arrive (valid, numbered), and it is not a continuation point.
        mock.reply_sse(failed_events("resp_ws_failing"))
        t2 = ws_turn(conn, model=MODEL, input="fail", previous_response_id=r1["id"])
        r2 = check_turn(schema, t2, websocket=True)
        assert r2["status"] == "failed" and r2["id"] == "resp_ws_failing"
        assert r2["error"] == {"code": "server_error", "message": "busy"}
        err = check_ws_error(
            schema, ws_turn(conn, model=MODEL, input="go on", previous_response_id=r2["id"])[-1], 400
        )
        assert err["code"] == "previous_response_not_found"
        assert err["param"] == "previous_response_id"

        # An incomplete turn neither.
        t3 = ws_turn(conn, model=MODEL, input="mock:fixture incomplete_max_tokens")
        r3 = check_turn(schema, t3, websocket=True)
        assert r3["status"] == "incomplete"
        err = check_ws_error(
            schema, ws_turn(conn, model=MODEL, input="go on", previous_response_id=r3["id"])[-1], 400
        )
        assert err["code"] == "previous_response_not_found"

        # store: false on the socket: answered, not kept.
        r_unkept = check_turn(schema, ws_turn(conn, model=MODEL, input="unkept", store=False), websocket=True)
        err = check_ws_error(
            schema, ws_turn(conn, model=MODEL, input="go on", previous_response_id=r_unkept["id"])[-1], 400
        )
        assert err["code"] == "previous_response_not_found"

        # Malformed frames: an error frame each, and the socket stays usable.
        conn.send_raw("{not json")
        check_ws_error(schema, ws_read_turn(conn)[-1], 400)
        conn.send_raw(json.dumps({"type": "session.update", "session": {}}))
        check_ws_error(schema, ws_read_turn(conn)[-1], 400)
        conn.send_raw(json.dumps({"type": "response.create", "input": "no model"}))
        check_ws_error(schema, ws_read_turn(conn)[-1], 400)
        conn.send_raw(b"\x00binary")
        check_ws_error(schema, ws_read_turn(conn)[-1], 400)
        unknown = {"type": "response.create", "model": MODEL, "input": "x", "previous_response_id": "resp_nope"}
        conn.send_raw(json.dumps(unknown))
        assert check_ws_error(schema, ws_read_turn(conn)[-1], 400)["code"] == "previous_response_not_found"
        # The backend refusing a turn before it starts: an error frame with the HTTP API's status and code.
        err = check_ws_error(schema, ws_turn(conn, model=MODEL, input="mock:usage_limit")[-1], 429)
        assert err["code"] == "usage_limit_reached"

        # The conversation goes on from the last good turn, without the failed one's input.
        t4 = ws_turn(conn, model=MODEL, input="still here", previous_response_id=r1["id"])
        r4 = check_turn(schema, t4, websocket=True)
        assert r4["status"] == "completed"
        assert [text_of(i) for i in upstream_inputs(mock)[-1]] == ["first", echo("first"), "still here"]

        # The same fields nested under `response` are accepted too.
        nested = {"model": MODEL, "input": "nested", "previous_response_id": r4["id"]}
        conn.send_raw(json.dumps({"type": "response.create", "response": nested}))
        r5 = check_turn(schema, ws_read_turn(conn), websocket=True)
        assert r5["previous_response_id"] == r4["id"]


def test_websocket_error_mid_turn_is_numbered(
    client: openai.OpenAI, server: Server, mock: Mock, schema: Schema
) -> None:
    """The backend's stream breaks off mid-answer: the client gets the events so far, then an error frame
    that continues their numbering (every frame of a turn carries its `sequence_number`), as the SSE form's
    `error` event does; the turn is not kept and the socket stays usable."""
    partial = Codex("resp_ws_cut").message(["partial ", "answer"]).events[:-3]
    mock.reply_raw([f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in partial])
    with ws_connect(client, server) as conn:
        frames = ws_turn(conn, model=MODEL, input="cut me off")
        assert [f["type"] for f in frames[:-1]] == [e["type"] for e in partial]
        problems = event_problems(schema, frames[:-1], websocket=True)
        assert not problems, "\n".join(problems)
        error = frames[-1]
        check_ws_error(schema, error, 502)
        assert error.get("sequence_number") == len(frames) - 1, f"error frame without its number: {error}"
        err = check_ws_error(
            schema, ws_turn(conn, model=MODEL, input="go on", previous_response_id="resp_ws_cut")[-1], 400
        )
        assert err["code"] == "previous_response_not_found"
        assert check_turn(schema, ws_turn(conn, model=MODEL, input="again"), websocket=True)["status"] == "completed"


# ---------------------------------------------------------------------------------------------- echoed request fields


def test_response_echoes_tools_with_their_documented_defaults(client: openai.OpenAI, schema: Schema) -> None:
    """OpenAI's API takes a function tool without `strict` (or `parameters`) and answers with the tool filled
    in; the response object's `tools[]` must be valid `FunctionTool`s, which require both."""
    bare = {"type": "function", "name": "get_weather", "description": "Weather."}
    _, body = create_raw(client, model=MODEL, input="hello", tools=[bare])
    missing = {"strict", "parameters"} - set(body["tools"][0])
    assert not missing, f"response.tools[0] lacks {sorted(missing)}: {json.dumps(body['tools'])}"
    problems = schema_problems(schema, "Response", body, "response")
    assert not problems, "\n".join(problems)


def test_continuation_keeps_system_input_items_but_not_instructions(client: openai.OpenAI, mock: Mock) -> None:
    """`instructions` belong to one request and are not carried over by `previous_response_id`; input items
    are, whatever their role, so a conversation opened with a system message keeps it on later turns."""
    first = client.responses.create(
        model=MODEL,
        instructions="Only for turn one.",
        input=[{"role": "system", "content": "Always answer in French."}, user("hello")],
    )
    client.responses.create(model=MODEL, input="again", previous_response_id=first.id)
    one, two = (r["body"] for r in upstream(mock))
    assert "Only for turn one." in one["instructions"] and "Always answer in French." in one["instructions"]
    assert "Only for turn one." not in two["instructions"]
    carried = two["instructions"] + "\n" + "\n".join(text_of(i) for i in two["input"] if "content" in i)
    assert "Always answer in French." in carried, f"the system message was dropped on turn two: {two}"

