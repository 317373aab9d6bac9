#!/usr/bin/env bash
# The agent-loop benchmark (issue 16): 30 turns, ~4 kB of tool output added per turn, through chat
# completions (whole history resent) and /v1/responses (previous_response_id), over each upstream
# transport, against the mock backend; then 1,000 idle upstream WebSockets (over TLS) and codex-serve's RSS.
#
#   bash bench/agent-loop.sh                 # release build (slow to build on 2 cores)
#   BENCH_PROFILE=debug bash bench/agent-loop.sh
#
# Prints a summary per configuration; the per-turn JSON lines stay in bench/results/agent-loop-<stamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${BENCH_PROFILE:-release}
TURNS=${BENCH_TURNS:-30}
if [ "$PROFILE" = release ]; then
  cargo build --release --locked -p codex-serve -p codex-serve-bench --bin codex-serve --bin agent-loop >&2
  BIN=target/release
else
  cargo build --locked -p codex-serve -p codex-serve-bench --bin codex-serve --bin agent-loop >&2
  BIN=target/debug
fi
OUT=bench/results/agent-loop-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true
for client in chat responses; do
  for transport in websocket http; do
    "$BIN/agent-loop" --codex-serve "$BIN/codex-serve" --client "$client" --transport "$transport" \
      --turns "$TURNS" >"$OUT/$client-$transport.jsonl"
  done
done
"$BIN/agent-loop" --codex-serve "$BIN/codex-serve" --idle-sockets 1000 >"$OUT/idle-sockets.json"
python3 - "$OUT" <<'PY'
import json, statistics, sys, pathlib
out = pathlib.Path(sys.argv[1])
print("| client | transport | upstream bytes, turn 1 / 2 / 30 | max upstream ÷ new items, turns 2-30 | new connections after turn 1 (codex-serve / direct) | TTFB p50 ms, codex-serve / direct | added TTFB p50 ms | added, to the direct first byte |")
print("| --- | --- | --: | --: | --: | --: | --: | --: |")
for c in ["chat", "responses"]:
    for t in ["websocket", "http"]:
        rows = [json.loads(l) for l in open(out / f"{c}-{t}.jsonl")]
        later = rows[1:]
        ratio = max(r["upstream_bytes"] / r["new_bytes"] for r in later)
        p50 = lambda k: statistics.median(r[k] for r in rows)
        added = statistics.median(r["ttfb_ms"] - r["direct_ttfb_ms"] for r in rows)
        added_first = statistics.median(r["ttfb_ms"] - r["direct_first_byte_ms"] for r in rows)
        conns = sum(r["new_connections"] for r in later)
        dconns = sum(r["direct_new_connections"] for r in later)
        b = [rows[0]["upstream_bytes"], rows[1]["upstream_bytes"], rows[-1]["upstream_bytes"]]
        print(f"| {c} | {t} | {b[0]:,} / {b[1]:,} / {b[2]:,} | {ratio:.2f}× | {conns} / {dconns} | {p50('ttfb_ms'):.3f} / {p50('direct_ttfb_ms'):.3f} | {added:.3f} | {added_first:.3f} |")
idle = json.load(open(out / "idle-sockets.json"))
print(f"\n1,000 idle upstream WebSockets (TLS): {idle['idle_sockets']} idle, RSS {idle['rss_kib']/1024:.1f} MiB")
PY
