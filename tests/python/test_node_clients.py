"""The Node clients people run, against codex-serve and the mock: openai-node, the Vercel AI SDK and
Claude Code (`claude -p`), installed pinned in tests/clients (`npm ci --prefix tests/clients`).

The SDK test files (`tests/clients/*.test.mjs`) run under node's test runner on the TCP listener.
Claude Code runs in a network namespace of its own with only loopback (`unshare -n`), reaching
codex-serve through the Unix socket (`ANTHROPIC_UNIX_SOCKET`), with a throwaway home and its
non-essential traffic off. In CI (CI=true) a missing install fails; elsewhere it skips, loudly.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, Server

CLIENTS = REPO / "tests" / "clients"
CLAUDE = CLIENTS / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude"


def _need(path: Path, what: str) -> None:
    if path.exists():
        return
    why = f"{what} is not installed at {path}: run `npm ci --prefix tests/clients`"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@pytest.mark.parametrize("script", ["openai_node.test.mjs", "ai_sdk.test.mjs"])
@pytest.mark.parametrize("listener", ["tcp"], indirect=True)
def test_node_sdk(server: Server, listener: str, script: str) -> None:
    _need(CLIENTS / "node_modules" / "openai", "openai-node")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": tempfile.mkdtemp(prefix="node-home-"),
        "CODEX_SERVE_URL": server.tcp_url,
        "CODEX_SERVE_API_KEY": server.api_key,
    }
    proc = subprocess.run(
        ["node", "--test", "--test-reporter=spec", script],
        cwd=CLIENTS, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"{script}:\n{proc.stdout}\n{proc.stderr}\ncodex-serve:\n{server.stderr()[-4000:]}"


def _claude(server: Server, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    home = Path(tempfile.mkdtemp(prefix="claude-home-"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        # codex-serve takes no key on its socket; Claude Code wants one to start.
        "ANTHROPIC_API_KEY": "unused",
        "ANTHROPIC_BASE_URL": "http://localhost",
        "ANTHROPIC_UNIX_SOCKET": server.socket,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    isolated = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    cmd = [*isolated, str(CLAUDE), *args]
    try:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _need_claude() -> None:
    _need(CLAUDE, "Claude Code")
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("unshare (util-linux) and ip (iproute2) are needed to run Claude Code without a network")


def test_claude_code_print_with_its_default_model(server: Server, mock) -> None:
    _need_claude()
    proc = _claude(server, "-p", "hello claude", "--output-format", "stream-json", "--verbose")
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\ncodex-serve:\n{server.stderr()[-4000:]}"
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    result = [m for m in lines if m.get("type") == "result"]
    assert result and result[-1].get("is_error") is False, proc.stdout
    answer = result[-1]["result"]
    assert answer.startswith("echo: ") and answer.endswith("hello claude"), result[-1]
    bodies = [r["body"] for r in mock.requests() if r["path"].endswith("/responses")]
    assert bodies, "nothing reached the backend"
    assert bodies[-1]["model"] in {"gpt-5.5", "gpt-6.1-terra", "gpt-5.6-luna"}, bodies[-1]["model"]


def test_claude_code_bash_tool_round_trip(server: Server, mock) -> None:
    _need_claude()
    prompt = 'mock:tool Bash {"command":"echo from-bash-$((6*7))","description":"say"}'
    proc = _claude(
        server, "-p", prompt, "--output-format", "stream-json", "--verbose",
        "--allowedTools", "Bash",
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\ncodex-serve:\n{server.stderr()[-4000:]}"
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip().startswith("{")]
    result = [m for m in lines if m.get("type") == "result"][-1]
    assert "tool said:" in result["result"] and "from-bash-42" in result["result"], result
