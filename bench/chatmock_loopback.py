"""Runs ChatMock (the PyPI package `chatmock`) against the benchmark's static upstream on loopback.

ChatMock has no setting for its upstream: the backend URL is a constant in `chatmock.config`, which other
modules copy at import. This launcher rewrites those constants to the loopback upstream in every loaded
ChatMock module, refuses any non-loopback URL, and then runs ChatMock's own CLI unchanged
(`chatmock serve`, its Flask server, threaded). The login is a fake `auth.json` in CHATGPT_LOCAL_HOME.

usage: python chatmock_loopback.py UPSTREAM_URL PORT
"""

import os
import sys
from urllib.parse import urlparse


def main() -> None:
    upstream, port = sys.argv[1].rstrip("/"), sys.argv[2]
    host = urlparse(upstream).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing a non-loopback upstream: {upstream}")
    if not os.environ.get("CHATGPT_LOCAL_HOME"):
        sys.exit("set CHATGPT_LOCAL_HOME to the directory holding the fake auth.json")
    # The token endpoint has an environment override; set it before chatmock.config is imported.
    os.environ["CHATGPT_LOCAL_ISSUER"] = upstream

    import chatmock  # noqa: F401  (imports every module that copies the constants)
    import chatmock.cli

    replace = {
        "CHATGPT_CODEX_BASE_URL": upstream,
        "CHATGPT_RESPONSES_URL": f"{upstream}/responses",
        "OAUTH_TOKEN_URL": f"{upstream}/oauth/token",
    }
    for name, module in list(sys.modules.items()):
        if name == "chatmock" or name.startswith("chatmock."):
            for attr, value in replace.items():
                if hasattr(module, attr):
                    setattr(module, attr, value)
    # Anything still naming a remote host would leave the machine: refuse to start instead.
    for name, module in list(sys.modules.items()):
        if name.startswith("chatmock"):
            for attr in replace:
                value = getattr(module, attr, None)
                if isinstance(value, str) and urlparse(value).hostname != host:
                    sys.exit(f"{name}.{attr} still points at {value}")

    sys.argv = ["chatmock", "serve", "--host", "127.0.0.1", "--port", str(port)]
    chatmock.cli.main()


if __name__ == "__main__":
    main()
