#!/usr/bin/env bash
# Where codex-serve spends its instructions on the hot path: a fixed number of chat completions through the
# Unix socket against the static upstream, with codex-serve under a profiler.
#
#   bash bench/profile.sh               # non-streaming and streaming, 3000 requests each at c=16
#   PROFILE_REQUESTS=1000 bash bench/profile.sh
#   PROFILE_BUILD=release bash bench/profile.sh   # totals only, without a second build (no line tables)
#   PROFILE_BUILD=release PROFILE_CODEX_SERVE=/path/to/codex-serve bash bench/profile.sh   # another binary
#
# Uses `perf record` when hardware counters work here (`perf stat -e instructions true`), otherwise
# valgrind's callgrind (installed with apt when missing). Reports go to bench/results/profile-<stamp>/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REQUESTS=${PROFILE_REQUESTS:-3000}
CONC=${PROFILE_CONCURRENCY:-16}
BUILD=${PROFILE_BUILD:-profiling}
OHA=$ROOT/bench/.tools/bin/oha
OUT=$ROOT/bench/results/profile-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"

say() { printf '== %s\n' "$*" >&2; }

if [ ! -x "$OHA" ]; then
  say "installing oha into bench/.tools (once)"
  cargo install oha --locked --root "$ROOT/bench/.tools" >&2
fi
TOOL=callgrind
if perf stat -e instructions true >/dev/null 2>&1 \
  && ! perf stat -e instructions true 2>&1 | grep -q 'not supported'; then
  TOOL=perf
elif ! command -v valgrind >/dev/null; then
  say "installing valgrind"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >&2
fi
say "profiler: $TOOL"

say "build (cargo profile '$BUILD'; 'profiling' is release with line tables)"
cargo build --locked --profile "$BUILD" -p codex-serve --bin codex-serve >&2
cargo build --locked --release -p codex-serve-bench --bin static-upstream >&2
SERVE=${PROFILE_CODEX_SERVE:-$ROOT/target/$BUILD/codex-serve}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/codex-serve-profile.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/target/release/static-upstream" --port 0 >"$WORK/up.out" 2>&1 &
PIDS+=($!)
until grep -q '^listening ' "$WORK/up.out"; do sleep 0.05; done
UP=$(awk '/^listening / {print $2}' "$WORK/up.out")
"$ROOT/target/release/static-upstream" --write-auth "$WORK/home"

for mode in plain stream; do
  if [ "$mode" = plain ]; then
    BODY='{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"Say hello"}]}'
  else
    BODY='{"model":"gpt-6.2-sol","stream":true,"messages":[{"role":"user","content":"Say hello"}]}'
  fi
  SOCK=$WORK/$mode.sock
  ARGS=(--socket "$SOCK" --codex-home "$WORK/home" --upstream-url "$UP" --auth-url "$UP")
  if [ "$TOOL" = perf ]; then
    perf record -g -o "$OUT/$mode.perf.data" -- "$SERVE" "${ARGS[@]}" 2>"$WORK/$mode.log" &
  else
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$mode.callgrind" \
      "$SERVE" "${ARGS[@]}" 2>"$WORK/$mode.log" &
  fi
  PID=$!
  PIDS+=($PID)
  until curl -sf --unix-socket "$SOCK" http://localhost/healthz >/dev/null 2>&1; do sleep 0.2; done
  # Warm up (first connections, lazy statics), then count only the measured requests.
  "$OHA" --no-tui -n 100 -c "$CONC" -m POST -T application/json -d "$BODY" \
    --unix-socket "$SOCK" http://localhost/v1/chat/completions >/dev/null
  if [ "$TOOL" = callgrind ]; then callgrind_control -z "$PID" >/dev/null; fi
  say "$mode: $REQUESTS requests at c=$CONC"
  "$OHA" --no-tui -n "$REQUESTS" -c "$CONC" -m POST -T application/json -d "$BODY" \
    --unix-socket "$SOCK" http://localhost/v1/chat/completions >"$OUT/$mode.oha.txt"
  kill -TERM "$PID"
  wait "$PID" || true
  if [ "$TOOL" = perf ]; then
    perf report -i "$OUT/$mode.perf.data" --no-children --stdio --percent-limit 0.5 >"$OUT/$mode.report.txt" 2>/dev/null
  else
    callgrind_annotate --inclusive=yes "$OUT/$mode.callgrind" >"$OUT/$mode.inclusive.txt" 2>/dev/null
    callgrind_annotate "$OUT/$mode.callgrind" >"$OUT/$mode.self.txt" 2>/dev/null
    total=$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$OUT/$mode.self.txt")
    echo "$mode: $((total / REQUESTS)) instructions per request (codex-serve only, $REQUESTS requests)" \
      | tee -a "$OUT/summary.txt"
  fi
done
say "reports in ${OUT#$ROOT/}"
ls "$OUT" >&2
