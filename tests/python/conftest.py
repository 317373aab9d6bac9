"""Fixtures for the end-to-end tests: a `codex-mock` backend, a `codex-serve` on a private socket, the
official OpenAI, Ollama and Anthropic SDK clients speaking to it, and an OpenAPI schema validator.

The Ollama and Anthropic clients reach the server through an `Endpoint`: every test that takes one runs
twice, on the Unix socket and on a loopback TCP listener (`--tcp 127.0.0.1:0` with a key in
CODEX_SERVE_API_KEY). The `listener` fixture says which one a test's `client` and `http` use: the socket
unless a test is parametrized over it (`over_tcp_too` below) or takes the `tcp` endpoint.

Build the binaries first (`cargo build --workspace --bins`); CARGO_TARGET_DIR is honoured, and
CODEX_SERVE_BIN / CODEX_MOCK_BIN name other binaries. The OpenAPI document is read from
OPENAI_OPENAPI_YAML, else `<repo>/../shared/openai-openapi.yaml`; without it schema checks are skipped.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import anthropic
import httpx
import ollama
import openai
import pytest

REPO = Path(__file__).resolve().parents[2]
ACCOUNT_ID = "acc-1"
START_TIMEOUT_S = 10.0
# Environment that would change what the binaries do; the tests pass everything explicitly.
SCRUBBED_ENV = (
    "CODEX_HOME",
    "CODEX_SERVE_SOCKET",
    "CODEX_SERVE_UPSTREAM_URL",
    "CODEX_SERVE_AUTH_URL",
    "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
    "CODEX_MOCK_FIXTURES",
    "OPENAI_API_KEY",
    "RUST_LOG",
    "CODEX_SERVE_API_KEY",
)
# Runs a test on both listeners: `@over_tcp_too` on a test that takes `client` and/or `http`.
over_tcp_too = pytest.mark.parametrize("listener", ["unix", "tcp"], indirect=True)


# ---------------------------------------------------------------------------------------------- binaries


def _target_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        return REPO / "target"
    path = Path(target)
    return path if path.is_absolute() else REPO / path


def _binary(name: str, env_var: str) -> Path:
    override = os.environ.get(env_var)
    path = Path(override) if override else _target_dir() / "debug" / name
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"{name} not found at {path}: run `cargo build --workspace --bins` first "
            f"(or set {env_var})",
            pytrace=False,
        )
    return path


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(extra)
    return env


def _stop(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Terminate one child process we started, and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


# ---------------------------------------------------------------------------------------------- the mock


def neutral(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses body as sent in the codex CLI's shape, read back into the neutral one: the leading
    developer message as `instructions`, the tools of a Responses Lite `additional_tools` item (the
    `functions` namespace flattened) as `tools`, and items without the ids and namespaces the shape adds.
    The wire shape itself is checked by the Rust tests and the parity tests; these check the SDKs."""
    body = dict(body)
    items = [dict(i) for i in body.get("input", [])]
    extra = [i for i in items if i.get("type") == "additional_tools"]
    items = [i for i in items if i.get("type") != "additional_tools"]
    if extra and "tools" not in body:
        tools: list[Any] = []
        for t in extra[0].get("tools", []):
            if t.get("type") == "namespace" and t.get("name") == "functions":
                tools.extend(t.get("tools", []))
            else:
                tools.append(t)
        body["tools"] = tools
    if items and items[0].get("type") == "message" and items[0].get("role") == "developer":
        first = items.pop(0)
        body["instructions"] = "".join(p.get("text", "") for p in first.get("content", []))
    for i in items:
        i.pop("id", None)
        i.pop("namespace", None)
    body["input"] = items
    return body


class Mock:
    """Handle on a running codex-mock: its URL and its `/_mock/*` control endpoints."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=10.0)

    def _post(self, path: str, body: Any = None) -> Any:
        resp = self.http.post(path, json=body if body is not None else {})
        assert resp.status_code == 200, f"mock {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def reset(self) -> None:
        """Forget queued replies and recorded requests (issued tokens stay valid).

        Sent without a body: the endpoint never reads one, and a body that arrives after the headers is then
        left unread, so the mock closes the kept-alive connection after answering and the next control
        request on it fails with "Server disconnected without sending a response".
        """
        resp = self.http.post("/_mock/reset")
        assert resp.status_code == 200, f"mock /_mock/reset: {resp.status_code} {resp.text}"

    def requests(self) -> list[dict[str, Any]]:
        """Every `POST /responses` received: `{path, headers: {lowercase name: value}, body}`, the body in
        the neutral form these SDK tests reason about (see `neutral`)."""
        reqs = self.raw_requests()
        for r in reqs:
            if isinstance(r.get("body"), dict):
                r["body"] = neutral(r["body"])
        return reqs

    def raw_requests(self) -> list[dict[str, Any]]:
        """Every `POST /responses` received, the body exactly as sent."""
        resp = self.http.get("/_mock/requests")
        resp.raise_for_status()
        return resp.json()

    def token_requests(self) -> list[Any]:
        resp = self.http.get("/_mock/token_requests")
        resp.raise_for_status()
        return resp.json()

    def issue_tokens(self, account_id: str = ACCOUNT_ID, exp_in_secs: int = 3600) -> dict[str, str]:
        return self._post("/_mock/issue_tokens", {"account_id": account_id, "exp_in_secs": exp_in_secs})

    def reply_sse(self, events: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        """Queue an SSE answer: one `event:`/`data:` frame per event."""
        self._post("/_mock/reply", {"kind": "sse", "events": events, "headers": headers or {}})

    def reply_status(
        self, status: int, body: Any = "", headers: dict[str, str] | None = None
    ) -> None:
        """Queue a plain HTTP answer."""
        self._post(
            "/_mock/reply",
            {"kind": "status", "status": status, "body": body, "headers": headers or {}},
        )

    def reply_raw(self, chunks: list[str | tuple[str, int]]) -> None:
        """Queue a 200 SSE answer written verbatim, chunk by chunk (`(text, delay_ms)` or text)."""
        spec = [
            {"text": c, "delay_ms": 0} if isinstance(c, str) else {"text": c[0], "delay_ms": c[1]}
            for c in chunks
        ]
        self._post("/_mock/reply", {"kind": "raw", "chunks": spec})

    def reply_hang(self) -> None:
        self._post("/_mock/reply", {"kind": "hang"})

    def models(self, tokens: dict[str, str], account_id: str = ACCOUNT_ID) -> list[dict[str, Any]]:
        """The mock's own model catalog, read the way the backend's clients read it."""
        resp = self.http.get(
            "/models",
            headers={
                "authorization": f"Bearer {tokens['access_token']}",
                "chatgpt-account-id": account_id,
            },
        )
        resp.raise_for_status()
        return resp.json()["models"]


@pytest.fixture(scope="session")
def _mock_process() -> Iterator[Mock]:
    binary = _binary("codex-mock", "CODEX_MOCK_BIN")
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [str(binary)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=_child_env(CODEX_MOCK_FIXTURES=str(REPO / "reference")),
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline().decode() if ready else ""
        if not line.startswith("listening http://"):
            stderr.seek(0)
            pytest.fail(
                f"codex-mock did not start (stdout {line!r}):\n{stderr.read().decode(errors='replace')}",
                pytrace=False,
            )
        mock = Mock(line.split(None, 1)[1].strip())
        yield mock
        mock.http.close()
    finally:
        # Closing stdin is the mock's signal to exit; terminate it if it does not.
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _stop(proc)
        if proc.stdout:
            proc.stdout.close()
        stderr.close()


@pytest.fixture
def mock(_mock_process: Mock) -> Mock:
    """The session's mock backend, reset before each test."""
    _mock_process.reset()
    return _mock_process


# ---------------------------------------------------------------------------------------------- the server


@dataclass
class Server:
    socket: str
    codex_home: Path
    tokens: dict[str, str]
    proc: subprocess.Popen
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)
    # Set when the server also listens on loopback TCP: its bound address ("127.0.0.1:PORT") and key.
    tcp: str | None = None
    api_key: str | None = None

    @property
    def tcp_url(self) -> str:
        assert self.tcp, "this server has no TCP listener (use the `listener` fixture, or `over_tcp_too`)"
        return f"http://{self.tcp}"

    def stderr(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def _uds_client(socket: str, timeout: float = 20.0) -> httpx.Client:
    return httpx.Client(
        base_url="http://localhost",
        transport=httpx.HTTPTransport(uds=socket),
        timeout=timeout,
    )


def _write_auth(codex_home: Path, tokens: dict[str, str]) -> None:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    auth = {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": tokens["id_token"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "account_id": ACCOUNT_ID,
        },
        "last_refresh": now,
    }
    path = codex_home / "auth.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(auth, f)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TCP_BOUND = re.compile(r"codex-serve listening tcp=(\S+)")


def _tcp_address(server: Server) -> str:
    """The address `--tcp 127.0.0.1:0` was bound to, as codex-serve logs it ("codex-serve listening
    tcp=127.0.0.1:PORT"). The TCP listener is bound, and logged, before the socket, so once the socket
    answers the line is there."""
    found = _TCP_BOUND.findall(_ANSI.sub("", server.stderr()))
    if len(found) != 1:
        pytest.fail(f"codex-serve did not log one bound TCP address:\n{server.stderr()}", pytrace=False)
    return found[0]


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last_error = "no answer"
    with _uds_client(server.socket, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.proc.poll() is not None:
                pytest.fail(
                    f"codex-serve exited with {server.proc.returncode} before answering "
                    f"/healthz:\n{server.stderr()}",
                    pytrace=False,
                )
            if os.path.exists(server.socket):
                try:
                    resp = http.get("/healthz")
                    if resp.status_code == 200:
                        return
                    last_error = f"HTTP {resp.status_code}: {resp.text}"
                except httpx.TransportError as e:
                    last_error = repr(e)
            time.sleep(0.05)
    pytest.fail(
        f"codex-serve did not answer /healthz within {START_TIMEOUT_S:.0f}s ({last_error}):\n"
        f"{server.stderr()}",
        pytrace=False,
    )


@pytest.fixture
def listener(request: pytest.FixtureRequest) -> str:
    """Where `client` and `http` reach the server: "unix" (the default), or "tcp" for a test parametrized over
    this fixture (indirectly: `over_tcp_too`) or over the `tcp` endpoint. With "tcp" the server also listens
    on loopback TCP with a key."""
    chosen = getattr(request, "param", None)
    if chosen is None:
        callspec = getattr(request.node, "callspec", None)
        chosen = callspec.params.get("endpoint", "unix") if callspec else "unix"
    assert chosen in ("unix", "tcp"), f"unknown listener {chosen!r}"
    return chosen


@pytest.fixture
def server(mock: Mock, listener: str) -> Iterator[Server]:
    """A codex-serve of its own for each test: fresh CODEX_HOME, fresh tokens, socket in a short temp dir.

    With the "tcp" listener it also listens on `--tcp 127.0.0.1:0` (the kernel picks the port; the bound
    address is read from the log) with a fresh key in CODEX_SERVE_API_KEY: `server.tcp`, `server.api_key`."""
    binary = _binary("codex-serve", "CODEX_SERVE_BIN")
    # Unix socket paths are limited to ~108 bytes: keep it short rather than under pytest's tmp_path.
    workdir = Path(tempfile.mkdtemp(prefix="cs-e2e-"))
    codex_home = workdir / "codex-home"
    codex_home.mkdir(mode=0o700)
    tokens = mock.issue_tokens(ACCOUNT_ID, 3600)
    _write_auth(codex_home, tokens)
    socket = str(workdir / "serve.sock")
    log = workdir / "serve.log"
    args = [
        str(binary),
        "--socket",
        socket,
        "--codex-home",
        str(codex_home),
        "--upstream-url",
        mock.url,
        "--auth-url",
        mock.url,
    ]
    env = _child_env()
    api_key = None
    if listener == "tcp":
        api_key = "csk-e2e-" + secrets.token_urlsafe(24)
        args += ["--tcp", "127.0.0.1:0"]
        # The key comes from the environment, so no key file is generated (XDG_CONFIG_HOME is left alone).
        env["CODEX_SERVE_API_KEY"] = api_key
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    srv = Server(socket=socket, codex_home=codex_home, tokens=tokens, proc=proc, log=log, api_key=api_key)
    try:
        _wait_healthy(srv)
        if listener == "tcp":
            srv.tcp = _tcp_address(srv)
            _wait_healthy_tcp(srv)
        yield srv
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_healthy_tcp(server: Server) -> None:
    """The TCP listener answers /healthz when sent the key."""
    with httpx.Client(base_url=server.tcp_url, timeout=2.0) as http:
        resp = http.get("/healthz", headers={"authorization": f"Bearer {server.api_key}"})
        assert resp.status_code == 200, f"/healthz over TCP: {resp.status_code} {resp.text}"


def tcp_http_client(server: Server, timeout: float = 20.0, **kwargs: Any) -> httpx.Client:
    """A plain httpx client on the server's TCP listener, sending its key (base URL `http://127.0.0.1:PORT`)."""
    headers = {"authorization": f"Bearer {server.api_key}", **kwargs.pop("headers", {})}
    return httpx.Client(base_url=server.tcp_url, headers=headers, timeout=timeout, **kwargs)


@pytest.fixture
def http(server: Server, listener: str) -> Iterator[httpx.Client]:
    """A plain httpx client on the server's socket (base URL `http://localhost`), or on its TCP listener
    with the key (base URL `http://127.0.0.1:PORT`)."""
    with (tcp_http_client(server) if listener == "tcp" else _uds_client(server.socket)) as client:
        yield client


@pytest.fixture
def client(server: Server, listener: str) -> Iterator[openai.OpenAI]:
    """The official SDK pointed at the socket, or at the TCP listener with the key as its `api_key`.
    `max_retries=0`: every error reaches the test as sent."""
    if listener == "tcp":
        http_client = httpx.Client(timeout=20.0)
        base_url, api_key = f"{server.tcp_url}/v1", server.api_key
    else:
        http_client = httpx.Client(transport=httpx.HTTPTransport(uds=server.socket), timeout=20.0)
        base_url, api_key = "http://localhost/v1", "unused"
    sdk = openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        http_client=http_client,
        max_retries=0,
    )
    try:
        yield sdk
    finally:
        sdk.close()
        http_client.close()


# ---------------------------------------------------------------------------------------------- endpoints


@dataclass
class Endpoint:
    """How a client reaches the server: a base URL, and the Unix socket under it (None over TCP).

    `api_key` is the bearer key a TCP listener requires; the socket needs none (its permissions are the
    access control).
    """

    name: str
    base_url: str
    socket: str | None = None
    api_key: str | None = None

    def client_kwargs(self, hx: Any = httpx) -> dict[str, Any]:
        """`transport=` for an httpx-style client (`hx` is `httpx` or `httpx2`) on this endpoint."""
        return {"transport": hx.HTTPTransport(uds=self.socket)} if self.socket else {}

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"} if self.api_key else {}


def _httpx_for(sdk: Any) -> Any:
    """The httpx flavour an SDK speaks: `httpx2` for the SDKs that moved to it, `httpx` otherwise."""
    base = importlib.import_module(f"{sdk.__name__}._base_client")
    return getattr(base, "httpx2", None) or httpx


# "tcp" is `--tcp 127.0.0.1:0` with a key; the `server` fixture starts it for this parameter (see `listener`).
@pytest.fixture(params=["unix", "tcp"])
def endpoint(request: pytest.FixtureRequest, server: Server) -> Endpoint:
    if request.param == "unix":
        return Endpoint(name="unix", base_url="http://localhost", socket=server.socket)
    if request.param == "tcp":
        return Endpoint(name="tcp", base_url=server.tcp_url, api_key=server.api_key)
    raise AssertionError(f"unknown endpoint {request.param}")


@pytest.fixture
def ollama_client(endpoint: Endpoint) -> Iterator[ollama.Client]:
    """The official `ollama` client, its httpx client on the endpoint."""
    client = ollama.Client(
        host=endpoint.base_url,
        timeout=20.0,
        headers=endpoint.auth_headers(),
        **endpoint.client_kwargs(httpx),
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def anthropic_client(endpoint: Endpoint) -> Iterator[anthropic.Anthropic]:
    """The official Anthropic SDK on the endpoint, as Claude Code would use it (`ANTHROPIC_AUTH_TOKEN`
    over TCP). `max_retries=0`: every error reaches the test as sent."""
    hx = _httpx_for(anthropic)
    http_client = hx.Client(timeout=20.0, **endpoint.client_kwargs(hx))
    auth = (
        {"auth_token": endpoint.api_key}
        if endpoint.api_key
        else {"api_key": "unused"}  # the socket needs no key; the SDK wants one
    )
    sdk = anthropic.Anthropic(
        base_url=endpoint.base_url, http_client=http_client, max_retries=0, **auth
    )
    try:
        yield sdk
    finally:
        sdk.close()
        http_client.close()


# ---------------------------------------------------------------------------------------------- schema


def _spec_path() -> Path:
    override = os.environ.get("OPENAI_OPENAPI_YAML")
    if override:
        return Path(override)
    return REPO.parent / "shared" / "openai-openapi.yaml"


def _honour_nullable(node: Any) -> Any:
    """Give OpenAPI 3.0's `nullable: true` its meaning under JSON Schema 2020-12.

    The document says `openapi: 3.1.0` but still marks some schemas `nullable: true` (e.g. a stream
    chunk's `finish_reason`), a keyword 2020-12 ignores; read literally, every chunk OpenAI itself sends
    would fail. Such a schema `S` becomes `anyOf: [S, {type: null}]` (in memory only).
    """
    if isinstance(node, list):
        return [_honour_nullable(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _honour_nullable(v) for k, v in node.items()}
    if out.get("nullable") is True:
        del out["nullable"]
        return {"anyOf": [out, {"type": "null"}]}
    return out


class SchemaUnavailable(UserWarning):
    pass


class Schema:
    """Validates objects against `#/components/schemas/NAME` of the OpenAI OpenAPI document."""

    DOC_URI = "urn:openai:openapi"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.available = path.is_file()
        self.reason = (
            ""
            if self.available
            else f"OpenAPI document not found at {path} (set OPENAI_OPENAPI_YAML): schema checks skipped"
        )
        self._validators: dict[str, Any] = {}
        self._registry = None
        self._doc: dict[str, Any] | None = None

    def _load(self) -> None:
        import yaml
        from jsonschema import Draft202012Validator  # noqa: F401  (import errors surface here)
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        with open(self.path, "rb") as f:
            self._doc = _honour_nullable(yaml.load(f, Loader=loader))
        resource = Resource.from_contents(self._doc, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(self.DOC_URI, resource)

    def validator(self, name: str):
        from jsonschema import Draft202012Validator

        if self._doc is None:
            self._load()
        assert name in self._doc["components"]["schemas"], f"no schema {name!r} in {self.path}"
        if name not in self._validators:
            self._validators[name] = Draft202012Validator(
                {"$ref": f"{self.DOC_URI}#/components/schemas/{name}"}, registry=self._registry
            )
        return self._validators[name]

    def union_member(self, union: str, type_value: str) -> str | None:
        """The member of `union` (an `anyOf` of `$ref`s, e.g. `ResponseStreamEvent`) whose `type` enum holds
        `type_value`, so that an event can be checked against its own schema and fail with a clear message."""
        if not self.available:
            return None
        if self._doc is None:
            self._load()
        schemas = self._doc["components"]["schemas"]
        for ref in schemas[union].get("anyOf", []):
            name = ref.get("$ref", "").rsplit("/", 1)[-1]
            kind = schemas.get(name, {}).get("properties", {}).get("type", {})
            if type_value in kind.get("enum", []):
                return name
        return None

    def validate(self, name: str, obj: Any) -> None:
        """Assert that `obj` is a valid `NAME`; a no-op (with a warning) without the document."""
        if not self.available:
            warnings.warn(self.reason, SchemaUnavailable, stacklevel=2)
            return
        from jsonschema.exceptions import best_match

        errors = list(self.validator(name).iter_errors(obj))
        if errors:
            err = best_match(errors)
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            raise AssertionError(
                f"not a valid {name} at {where}: {err.message}\n"
                f"({len(errors)} error(s)) object: {json.dumps(obj)[:2000]}"
            )


@pytest.fixture(scope="session")
def schema() -> Schema:
    return Schema(_spec_path())
