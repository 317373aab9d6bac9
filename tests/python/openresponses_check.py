"""Validation of every Responses API object the tests see against the OpenResponses specification
(PyPI `openresponses-types`, pydantic models), which requires every key of a `Response`, `null` where
unknown. `ValidatingTransport` wraps the httpx transport of the test clients: each `/v1/responses` answer,
one JSON object or an SSE stream, is checked as it is read, so no test can see an object that fails.

The specification is stricter than codex-serve can be on two points, checked here as they are:
output items of the backend's own tools (`custom_tool_call`, `web_search_call`, ...) are not in its
item union, and efforts above `xhigh` are not in its enum. Objects holding those are skipped by name.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import httpx
import openresponses_types as ort
from pydantic import BaseModel, ValidationError

# Item types the OpenResponses union holds; a response with any other is checked minus those items.
KNOWN_ITEMS = {"message", "function_call", "function_call_output", "reasoning", "compaction"}


def _event_classes() -> dict[str, type[BaseModel]]:
    """`type` value → the streaming event model, read off the models themselves."""
    out: dict[str, type[BaseModel]] = {}
    for name in dir(ort):
        model = getattr(ort, name)
        if not (isinstance(model, type) and issubclass(model, BaseModel) and name.endswith("StreamingEvent")):
            continue
        field = model.model_fields.get("type")
        annotation = getattr(field, "annotation", None)
        for member in getattr(annotation, "__members__", {}).values():
            out[member.value] = model
    return out


EVENT_CLASSES = _event_classes()
checked = {"responses": 0, "events": 0}


def _known_items_only(response: dict[str, Any]) -> dict[str, Any]:
    response = dict(response)
    response["output"] = [i for i in response.get("output") or [] if i.get("type") in KNOWN_ITEMS]
    return response


def _fail(kind: str, obj: Any, err: ValidationError) -> None:
    raise AssertionError(f"not a valid OpenResponses {kind}: {err}\nobject: {json.dumps(obj)[:2000]}")


def check_response(obj: dict[str, Any]) -> None:
    try:
        ort.ResponseResource.model_validate(_known_items_only(obj))
    except ValidationError as err:
        _fail("Response", obj, err)
    checked["responses"] += 1


def check_event(event: dict[str, Any]) -> None:
    kind = event.get("type", "")
    model = EVENT_CLASSES.get(kind)
    if model is None:
        # Events of the backend's own tools have no OpenResponses model; their Response objects still do.
        if isinstance(event.get("response"), dict):
            check_response(event["response"])
        return
    item = event.get("item")
    if isinstance(item, dict) and item.get("type") not in KNOWN_ITEMS:
        return
    if isinstance(event.get("response"), dict):
        event = {**event, "response": _known_items_only(event["response"])}
    try:
        model.model_validate(event)
    except ValidationError as err:
        _fail(kind, event, err)
    checked["events"] += 1


def check_ws_frame(frame: dict[str, Any]) -> None:
    """A WebSocket frame: an event, or the WebSocket error frame."""
    if frame.get("type") == "error" and "status" in frame:
        try:
            ort.WebSocketErrorEvent.model_validate(frame)
        except ValidationError as err:
            _fail("WebSocket error", frame, err)
        return
    check_event(frame)


class _SseTee(httpx.SyncByteStream):
    """Passes the stream through unchanged, checking each complete SSE event on the way."""

    def __init__(self, inner: httpx.SyncByteStream) -> None:
        self.inner = inner
        self.buf = b""

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.buf += chunk
            while b"\n\n" in self.buf:
                frame, self.buf = self.buf.split(b"\n\n", 1)
                data = b"\n".join(line[5:].lstrip() for line in frame.split(b"\n") if line.startswith(b"data:"))
                if data and data != b"[DONE]":
                    check_event(json.loads(data))
            yield chunk

    def close(self) -> None:
        self.inner.close()


class ValidatingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        path = request.url.path
        if not path.startswith("/v1/responses") or path.startswith("/v1/responses/compact"):
            return response
        ctype = response.headers.get("content-type", "")
        if ctype.startswith("text/event-stream"):
            response.stream = _SseTee(response.stream)  # type: ignore[arg-type]
        elif ctype.startswith("application/json") and response.status_code == 200:
            body = response.read()
            response.stream = httpx.ByteStream(body)
            obj = json.loads(body)
            if isinstance(obj, dict) and obj.get("object") == "response":
                check_response(obj)
        return response

    def close(self) -> None:
        self.inner.close()
