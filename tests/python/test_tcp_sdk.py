"""The loopback TCP listener (`--tcp 127.0.0.1:0`, key in CODEX_SERVE_API_KEY) as the official clients meet
it: the key they send, what they raise without it, the Host check, and the WebSocket upgrade.

The working paths over TCP are covered elsewhere: every Ollama and Anthropic SDK test runs on the `tcp`
endpoint too, and the OpenAI SDK tests marked `over_tcp_too` run with the key as the SDK's `api_key`.

The clients here open a connection per request. A refusal is answered before the request body is read,
and codex-serve then closes the connection without saying `Connection: close`, so a pooled client's next
request can meet "Server disconnected without sending a response" (tests/tcp.rs pins that down); these
tests are about the refusals themselves.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest
import websockets.exceptions

from conftest import Mock, Server, _httpx_for, tcp_http_client

# Every test here gets a server that also listens on TCP with a key (`server.tcp`, `server.api_key`).
pytestmark = pytest.mark.parametrize("listener", ["tcp"], indirect=True)

MODEL = "gpt-6.2-sol"
OPUS = "claude-opus-4-7"
FOREIGN_HOSTS = ["evil.example", "evil.example:80", "localhost.evil.example", "10.1.2.3"]


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDKs read keys from the environment when given none; these tests decide what is sent."""
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "OLLAMA_API_KEY",
        "CODEX_SERVE_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)


def responses_upstream(mock: Mock) -> list[dict[str, Any]]:
    return [r for r in mock.requests() if r["path"] == "/responses"]


def one_shot(hx: Any) -> Any:
    """An httpx-style client (`hx` is `httpx` or `httpx2`) that opens a connection for every request."""
    return hx.Client(timeout=20.0, limits=hx.Limits(max_keepalive_connections=0))


NO_REUSE = httpx.Limits(max_keepalive_connections=0)


def openai_sdk(server: Server, api_key: str, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{server.tcp_url}/v1",
        api_key=api_key,
        max_retries=0,
        http_client=one_shot(_httpx_for(openai)),
        **kwargs,
    )


def anthropic_sdk(server: Server, **kwargs: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.tcp_url, max_retries=0, http_client=one_shot(_httpx_for(anthropic)), **kwargs
    )


def ollama_client(server: Server, **kwargs: Any) -> ollama.Client:
    return ollama.Client(host=server.tcp_url, timeout=20.0, limits=NO_REUSE, **kwargs)


def assert_openai_refusal(err: openai.APIStatusError, status: int, code: str) -> dict[str, Any]:
    assert err.status_code == status, err
    body = err.response.json()
    assert body["error"]["code"] == code, body
    assert err.code == code
    return body["error"]


# ---------------------------------------------------------------------------------------------- the key


def test_openai_sdk_without_the_key_is_authentication_error(server: Server, mock: Mock) -> None:
    # "unused" is what the socket examples pass: over TCP it is a wrong key.
    with openai_sdk(server, api_key="unused") as sdk:
        with pytest.raises(openai.AuthenticationError) as info:
            sdk.models.list()
        inner = assert_openai_refusal(info.value, 401, "invalid_api_key")
        assert "Incorrect API key" in inner["message"]
        assert info.value.response.headers.get("www-authenticate") == "Bearer"

        with pytest.raises(openai.AuthenticationError) as info:
            sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert_openai_refusal(info.value, 401, "invalid_api_key")
        with pytest.raises(openai.AuthenticationError) as info:
            sdk.responses.create(model=MODEL, input="hi", stream=True)
        assert_openai_refusal(info.value, 401, "invalid_api_key")

        # No Authorization header at all.
        with pytest.raises(openai.AuthenticationError) as info:
            sdk.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"Authorization": openai.Omit()},
            )
        assert "authorization" not in info.value.response.request.headers
        inner = assert_openai_refusal(info.value, 401, "invalid_api_key")
        assert "No API key provided" in inner["message"]

    # The key with one character dropped, or one too many, is still wrong.
    for near in (server.api_key[:-1], server.api_key + "x"):
        with openai_sdk(server, api_key=near) as sdk:
            with pytest.raises(openai.AuthenticationError):
                sdk.models.list()
    assert responses_upstream(mock) == [], "a refused request reached the backend"

    # And the right key works, on the same listener.
    with openai_sdk(server, api_key=server.api_key) as sdk:
        assert MODEL in {m.id for m in sdk.models.list()}


def test_anthropic_sdk_without_the_key_is_authentication_error(server: Server, mock: Mock) -> None:
    ask = dict(model=OPUS, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    # No credentials at all (the SDK insists the header be omitted on purpose).
    with anthropic_sdk(server, default_headers={"Authorization": anthropic.Omit()}) as sdk:
        with pytest.raises(anthropic.AuthenticationError) as info:
            sdk.messages.create(**ask)
        assert info.value.status_code == 401
        assert "authorization" not in info.value.response.request.headers
        assert "x-api-key" not in info.value.response.request.headers
        with pytest.raises(anthropic.AuthenticationError):
            sdk.messages.count_tokens(model=OPUS, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(anthropic.AuthenticationError):
            with sdk.messages.stream(**ask) as stream:
                stream.get_final_message()

    # A wrong key, as Claude Code sends ANTHROPIC_AUTH_TOKEN and as the SDK sends api_key.
    for creds in ({"auth_token": "csk-wrong"}, {"api_key": "csk-wrong"}):
        with anthropic_sdk(server, **creds) as sdk:
            with pytest.raises(anthropic.AuthenticationError) as info:
                sdk.messages.create(**ask)
            assert info.value.status_code == 401
    assert responses_upstream(mock) == [], "a refused request reached the backend"


def test_anthropic_sdk_with_the_key_as_x_api_key(server: Server) -> None:
    """Clients that send Anthropic's own `x-api-key` header (and no Authorization) are let in too."""
    headers = {"Authorization": anthropic.Omit(), "x-api-key": server.api_key}
    with anthropic_sdk(server, default_headers=headers) as sdk:
        msg = sdk.messages.create(model=OPUS, max_tokens=16, messages=[{"role": "user", "content": "Hello"}])
        assert msg.content[0].text == "echo: Hello"


def test_ollama_client_without_the_key_gets_401(server: Server, mock: Mock) -> None:
    for headers in ({}, {"authorization": "Bearer csk-wrong"}, {"authorization": f"Basic {server.api_key}"}):
        with ollama_client(server, headers=headers) as client:
            for call in (
                client.list,
                lambda: client.show(MODEL),
                lambda: client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}]),
                lambda: list(
                    client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
                ),
                lambda: client.generate(model=MODEL, prompt="hi"),
            ):
                with pytest.raises(ollama.ResponseError) as info:
                    call()
                assert info.value.status_code == 401, (headers, info.value)
    assert responses_upstream(mock) == [], "a refused request reached the backend"


def test_ollama_client_takes_the_key_from_ollama_api_key(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's advice for Ollama apps: the codex-serve key as OLLAMA_API_KEY."""
    monkeypatch.setenv("OLLAMA_API_KEY", server.api_key)
    with ollama_client(server) as client:
        resp = client.chat(model=MODEL, messages=[{"role": "user", "content": "Hello"}])
    assert resp.message.content == "echo: Hello"


# ---------------------------------------------------------------------------------------------- the Host check


ROUTES = [
    ("GET", "/healthz", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/responses", {"model": MODEL, "input": "hi"}),
    ("GET", "/api/tags", None),
    ("POST", "/api/chat", {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/messages", {"model": OPUS, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}),
    ("POST", "/v1/messages/count_tokens", {"model": OPUS, "messages": [{"role": "user", "content": "hi"}]}),
]


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
def test_a_foreign_host_header_is_403_with_or_without_the_key(server: Server, mock: Mock, host: str) -> None:
    with tcp_http_client(server, limits=NO_REUSE) as http:
        for method, path, body in ROUTES:
            for headers in ({"host": host}, {"host": host, "authorization": ""}):
                resp = http.request(method, path, json=body, headers=headers)
                assert resp.status_code == 403, (method, path, headers, resp.text)
                assert "host_not_allowed" in resp.text or "not allowed" in resp.text, resp.text
        # The same requests with a loopback Host go through (the key is sent by the client).
        port = server.tcp.rsplit(":", 1)[1]
        for good in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost"):
            assert http.get("/healthz", headers={"host": good}).status_code == 200, good
    assert responses_upstream(mock) == [], "a refused request reached the backend"


def test_official_clients_with_a_foreign_host_get_403(server: Server, mock: Mock) -> None:
    """What a page served from a rebound name would meet: the SDKs' requests carry its Host."""
    foreign = {"Host": "evil.example"}
    with openai_sdk(server, api_key=server.api_key, default_headers=foreign) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as info:
            sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert_openai_refusal(info.value, 403, "host_not_allowed")
    with anthropic_sdk(server, auth_token=server.api_key, default_headers=foreign) as sdk:
        with pytest.raises(anthropic.PermissionDeniedError) as info:
            sdk.messages.create(model=OPUS, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 403
    with ollama_client(server, headers={"authorization": f"Bearer {server.api_key}", **foreign}) as client:
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert info.value.status_code == 403
    assert responses_upstream(mock) == [], "a refused request reached the backend"


# ---------------------------------------------------------------------------------------------- error shapes


def test_refusals_on_the_anthropic_routes_are_in_anthropic_shape(server: Server) -> None:
    """README, "Errors": every error under /v1/messages is `{"type":"error","error":{"type","message"}}` with
    Anthropic's type for the status (401 `authentication_error`, 403 `permission_error`). Claude Code reads
    that shape to tell the user what went wrong."""
    ask = {"model": OPUS, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    with tcp_http_client(server, limits=NO_REUSE) as http:
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            refusals = [
                (401, "authentication_error", http.post(path, json=ask, headers={"authorization": ""})),
                (401, "authentication_error", http.post(path, json=ask, headers={"authorization": "Bearer nope"})),
                (403, "permission_error", http.post(path, json=ask, headers={"host": "evil.example"})),
            ]
            for status, kind, resp in refusals:
                assert resp.status_code == status, resp.text
                body = resp.json()
                assert body.get("type") == "error", f"{path} {status}: not Anthropic's error shape: {body}"
                assert body["error"]["type"] == kind, body
                assert body["error"]["message"], body


def test_refusals_on_the_ollama_routes_are_in_ollama_shape(server: Server) -> None:
    """README, "Errors": every error under /api/ is Ollama's `{"error": "..."}`: the official client's
    `ResponseError.error` is then the message, a string, as Ollama apps expect."""
    with ollama_client(server) as client:
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 401
    assert isinstance(info.value.error, str), f"not Ollama's error shape: {info.value.error!r}"
    assert "key" in info.value.error.lower()

    with tcp_http_client(server, limits=NO_REUSE) as http:
        resp = http.post("/api/chat", json={"model": MODEL, "messages": []}, headers={"host": "evil.example"})
    assert resp.status_code == 403
    assert isinstance(resp.json().get("error"), str), f"not Ollama's error shape: {resp.text}"


# ---------------------------------------------------------------------------------------------- WebSocket


def test_responses_websocket_over_tcp_needs_the_key(server: Server, mock: Mock) -> None:
    for key in ("csk-wrong", server.api_key[:-1]):
        with openai_sdk(server, api_key=key) as sdk:
            with pytest.raises(websockets.exceptions.InvalidStatus) as info:
                with sdk.responses.connect():
                    pass
            assert info.value.response.status_code == 401
    # (A foreign Host cannot be given through the SDK here: websockets adds its own Host line before any
    # extra header. The raw upgrade below, and tests/tcp.rs, cover it.)
    assert responses_upstream(mock) == []

    # With the key: one turn, its events numbered from 0, the answer the mock's echo.
    with openai_sdk(server, api_key=server.api_key) as sdk:
        with sdk.responses.connect() as conn:
            conn.response.create(model=MODEL, input="over tcp")
            events = []
            for event in conn:
                events.append(event)
                if event.type in ("response.completed", "response.failed", "error"):
                    break
    assert events[-1].type == "response.completed", events[-1]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "echo: over tcp"
    assert len(responses_upstream(mock)) == 1


def test_raw_websocket_upgrade_with_a_foreign_host_is_403(server: Server) -> None:
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    with tcp_http_client(server, limits=NO_REUSE) as http:
        resp = http.get("/v1/responses", headers={**upgrade, "host": "evil.example"})
        assert resp.status_code == 403, resp.text
        assert resp.json()["error"]["code"] == "host_not_allowed"
        resp = http.get("/v1/responses", headers={**upgrade, "authorization": ""})
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"]["code"] == "invalid_api_key"
