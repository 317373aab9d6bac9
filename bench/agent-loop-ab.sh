#!/usr/bin/env bash
# Two or more codex-serve binaries in the agent loop, alternating round by round so that the machine's
# drift from minute to minute falls on each alike. Prints, per binary, the added time to first byte
# (codex-serve's minus the direct client's) at p50 over turns 2-30 of every round, and over turns 2-6 and
# 26-30.
#
#   bash bench/agent-loop-ab.sh ROUNDS chat|responses websocket|http BIN_A BIN_B [BIN...]
#
# Uses target/release/agent-loop (build it with `cargo build --release -p codex-serve-bench --bin
# agent-loop`); BENCH_TURNS changes the 30 turns.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 5 ] || { sed -n 2,9p "$0" >&2; exit 2; }
rounds=$1 client=$2 transport=$3
shift 3
loop=${AGENT_LOOP:-target/release/agent-loop}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  i=0
  for bin in "$@"; do
    "$loop" --codex-serve "$bin" --client "$client" --transport "$transport" \
      --turns "${BENCH_TURNS:-30}" >"$out/$i-$r.jsonl"
    i=$((i + 1))
  done
done
python3 - "$out" "$@" <<'PY'
import glob, json, statistics, sys
out, bins = sys.argv[1], sys.argv[2:]
print("| binary | added p50 ms, turns 2-30 | turns 2-6 | turns 26-30 | direct p50 ms | turns |")
print("| --- | --: | --: | --: | --: | --: |")
for i, b in enumerate(bins):
    rows = [json.loads(l) for f in sorted(glob.glob(f"{out}/{i}-*.jsonl")) for l in open(f)]
    added = lambda rs: statistics.median(r["ttfb_ms"] - r["direct_ttfb_ms"] for r in rs)
    later = [r for r in rows if r["turn"] >= 2]
    early = [r for r in later if r["turn"] <= 6]
    late = [r for r in later if r["turn"] >= 26]
    direct = statistics.median(r["direct_ttfb_ms"] for r in later)
    print(f"| {b} | {added(later):.3f} | {added(early):.3f} | {added(late):.3f} | {direct:.3f} | {len(later)} |")
PY
