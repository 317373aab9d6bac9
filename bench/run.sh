#!/usr/bin/env bash
# The codex-serve benchmark: one command, all rows from one run on this machine. See BENCHMARKS.md.
#
#   bash bench/run.sh                 # full run, prints the table, keeps results in bench/results/<stamp>/
#   BENCH_DURATION=2s bash bench/run.sh
#   BENCH_LABEL="preliminary, noisy machine" bash bench/run.sh
#   BENCH_ROWS="direct socket" BENCH_CONCURRENCY=16 BENCH_EXTRAS=no bash bench/run.sh   # a quick A/B
#
# Everything talks over loopback or Unix sockets only. Not part of `cargo test` and not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-1s}
CONCURRENCY=${BENCH_CONCURRENCY:-1 16 64}
STREAMS=${BENCH_STREAMS:-1000}
COLD_RUNS=${BENCH_COLD_RUNS:-20}
LABEL=${BENCH_LABEL:-}
read -r -a ROWS <<<"${BENCH_ROWS:-direct socket tcp chatmock}"
EXTRAS=${BENCH_EXTRAS:-yes} # memory with open streams, and start-up
TOOLS=$ROOT/bench/.tools
VENV=$ROOT/bench/.venv
OHA=$TOOLS/bin/oha
REL=$ROOT/target/release
# Another codex-serve binary to measure instead of this tree's release build (e.g. another branch's).
SERVE_BIN=${BENCH_CODEX_SERVE:-$REL/codex-serve}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RESULTS=$ROOT/bench/results/$STAMP
mkdir -p "$RESULTS"

say() { printf '== %s\n' "$*" >&2; }

# ---- tools, installed only when missing --------------------------------------------------------------
if [ ! -x "$OHA" ]; then
  say "installing oha into bench/.tools (once)"
  cargo install oha --locked --root "$TOOLS" >&2
fi
if [ ! -x "$VENV/bin/chatmock" ]; then
  say "installing chatmock into bench/.venv (once)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check chatmock >&2
fi
PY=$VENV/bin/python

say "release build"
cargo build --release --locked -p codex-serve -p codex-serve-bench --bins >&2

# ---- processes we start, stopped on exit ---------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/codex-serve-bench.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }
wait_until() { # SECONDS CMD…: retry CMD until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# start_upstream NAME [ARGS…]: sets UPSTREAM_URL
start_upstream() {
  local name=$1; shift
  "$REL/static-upstream" --port 0 "$@" >"$WORK/$name.out" 2>&1 &
  PIDS+=($!)
  wait_until 10 grep -q '^listening ' "$WORK/$name.out" || { cat "$WORK/$name.out" >&2; exit 1; }
  UPSTREAM_URL=$(awk '/^listening / {print $2}' "$WORK/$name.out")
}

HAS_TCP=no
if "$SERVE_BIN" --help | grep -q -- '--tcp'; then HAS_TCP=yes; fi
API_KEY=bench-key-not-a-secret

# start_codex_serve NAME UPSTREAM [ARGS…]: sets CS_PID, CS_SOCK (and CS_TCP when --tcp exists)
start_codex_serve() {
  local name=$1 upstream=$2; shift 2
  CS_SOCK=$WORK/$name/run/codex-serve.sock
  mkdir -p "$WORK/$name"
  local tcp_args=()
  CS_TCP=
  if [ "$HAS_TCP" = yes ]; then
    CS_TCP=127.0.0.1:$(free_port)
    tcp_args=(--tcp "$CS_TCP")
  fi
  CODEX_SERVE_API_KEY=$API_KEY XDG_RUNTIME_DIR=$WORK/$name/xdg \
    "$SERVE_BIN" --socket "$CS_SOCK" --codex-home "$WORK/home" \
    --upstream-url "$upstream" --auth-url "$upstream" "${tcp_args[@]}" "$@" \
    2>"$WORK/$name.log" &
  CS_PID=$!
  PIDS+=($CS_PID)
  wait_until 10 curl -sf --unix-socket "$CS_SOCK" http://localhost/healthz \
    || { cat "$WORK/$name.log" >&2; exit 1; }
}

"$REL/static-upstream" --write-auth "$WORK/home"
mkdir -p "$WORK/chatmock-home" && cp "$WORK/home/auth.json" "$WORK/chatmock-home/"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- throughput and latency -----------------------------------------------------------------------------
start_upstream upstream
FAST=$UPSTREAM_URL
start_codex_serve serve "$FAST"
MAIN_PID=$CS_PID MAIN_SOCK=$CS_SOCK MAIN_TCP=$CS_TCP
IDLE_FRESH=$(rss_kib "$MAIN_PID")

if [[ " ${ROWS[*]} " == *" chatmock "* ]]; then
  CM_PORT=$(free_port)
  CHATGPT_LOCAL_HOME=$WORK/chatmock-home CHATGPT_LOCAL_MODEL_SYNC=false \
    "$PY" "$ROOT/bench/chatmock_loopback.py" "$FAST" "$CM_PORT" >"$WORK/chatmock.log" 2>&1 &
  PIDS+=($!)
  wait_until 20 curl -sf "http://127.0.0.1:$CM_PORT/health" || { cat "$WORK/chatmock.log" >&2; exit 1; }
fi

BODY_plain='{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"Say hello"}]}'
BODY_stream='{"model":"gpt-6.2-sol","stream":true,"messages":[{"role":"user","content":"Say hello"}]}'

# oha_run ROW MODE C DURATION OUT
oha_run() {
  local row=$1 mode=$2 c=$3 dur=$4 out=$5 body_var=BODY_$2
  local target=()
  case $row in
    direct) target=("$FAST/responses") ;;
    socket) target=(--unix-socket "$MAIN_SOCK" http://localhost/v1/chat/completions) ;;
    tcp) target=(-H "Authorization: Bearer $API_KEY" "http://$MAIN_TCP/v1/chat/completions") ;;
    chatmock) target=("http://127.0.0.1:$CM_PORT/v1/chat/completions") ;;
  esac
  "$OHA" --no-tui --output-format json -o "$out" -z "$dur" -c "$c" \
    -m POST -T application/json -d "${!body_var}" "${target[@]}"
}

if [ "$HAS_TCP" = no ]; then echo "n/a (no --tcp)" >"$RESULTS/na-tcp"; fi
for mode in plain stream; do
  for row in "${ROWS[@]}"; do
    [ -e "$RESULTS/na-$row" ] && continue
    say "$row, $mode: warm-up $WARMUP"
    oha_run "$row" "$mode" 16 "$WARMUP" "$WORK/warmup.json"
    for c in $CONCURRENCY; do
      say "$row, $mode, c=$c: $DURATION"
      before=$(curl -sf "$FAST/_stats")
      oha_run "$row" "$mode" "$c" "$DURATION" "$RESULTS/oha-$row-$mode-c$c.json"
      # What the upstream saw during the cell: requests, and new connections (reuse shows as few).
      printf '{"before":%s,"after":%s}\n' "$before" "$(curl -sf "$FAST/_stats")" \
        >"$RESULTS/upstream-$row-$mode-c$c.json"
    done
  done
done
# Idle again: codex-serve returns memory a burst freed 2-4 s after the last request.
sleep 6
IDLE_AFTER=$(rss_kib "$MAIN_PID")
IDLE_AFTER_ANON=$(awk '/^RssAnon/ {print $2}' "/proc/$MAIN_PID/status")

STREAMS_RSS= STREAMS_HWM= OPEN_CLIENT= OPEN_UPSTREAM= ACT= PLAIN=
if [ "$EXTRAS" = yes ]; then
# ---- memory with many open streams -----------------------------------------------------------------------
say "holding $STREAMS open streams"
start_upstream drip --delay-ms 30000
DRIP=$UPSTREAM_URL
HELD_ARGS=(--max-connections $((STREAMS + 64)))
# Older builds have no upstream limit to raise (and none to hit).
if "$SERVE_BIN" --help | grep -q -- '--max-upstream'; then HELD_ARGS+=(--max-upstream "$STREAMS"); fi
start_codex_serve held "$DRIP" "${HELD_ARGS[@]}"
HELD_PID=$CS_PID
"$REL/hold-streams" --socket "$CS_SOCK" --n "$STREAMS" --hold-secs 4 >"$WORK/hold.out" 2>&1 &
HOLD=$!
PIDS+=($HOLD)
wait_until 90 grep -q '^open ' "$WORK/hold.out" || { cat "$WORK/hold.out" >&2; exit 1; }
sleep 1
STREAMS_RSS=$(rss_kib "$HELD_PID")
OPEN_CLIENT=$(awk '/^open / {print $2}' "$WORK/hold.out")
OPEN_UPSTREAM=$(curl -sf "$DRIP/_stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["open_streams"])')
STREAMS_HWM=$(hwm_kib "$HELD_PID")
wait "$HOLD" || true
grep -v '^open \|^closing' "$WORK/hold.out" >&2 || true

# ---- start-up -----------------------------------------------------------------------------------------------
say "cold start ($COLD_RUNS runs each)"
SERVE=("$SERVE_BIN" --codex-home "$WORK/home" --upstream-url "$FAST" --auth-url "$FAST")
mkdir -p "$WORK/cold-xdg"
ACT=$(XDG_RUNTIME_DIR=$WORK/cold-xdg "$REL/cold-start" --mode activated --runs "$COLD_RUNS" -- "${SERVE[@]}")
PLAIN=$(XDG_RUNTIME_DIR=$WORK/cold-xdg "$REL/cold-start" --mode plain --runs "$COLD_RUNS" -- "${SERVE[@]}")
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- facts and the table ----------------------------------------------------------------------------------
CPU=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
MEM=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
export RESULTS LABEL DURATION CONCURRENCY LOAD_BEFORE LOAD_AFTER IDLE_FRESH IDLE_AFTER IDLE_AFTER_ANON STREAMS STREAMS_RSS \
  STREAMS_HWM OPEN_CLIENT OPEN_UPSTREAM ACT PLAIN CPU MEM
export MACHINE="$(nproc) cores ($CPU), $MEM, $(uname -sr)"
export CS_VERSION=$("$SERVE_BIN" --version | awk '{print $2}')
export OHA_VERSION=$("$OHA" --version | awk '{print $2}')
export CM_VERSION=$("$VENV/bin/pip" show chatmock 2>/dev/null | awk '/^Version/ {print $2}')
"$PY" - <<'EOF'
import json, os, datetime
e = os.environ
def startup(what, line):
    parts = line.split()
    if parts[0] == "n/a":
        return {"what": what, "figure": line}, None
    med, lo, hi, n = parts
    return {"what": what, "figure": f"median {med} ms (min {lo}, max {hi}, {n} runs)"}, float(med)
settings = " ".join(f"{k}={e[k]!r}" if " " in e[k] else f"{k}={e[k]}"
                    for k in sorted(e) if k.startswith("BENCH_") and k != "BENCH_LABEL")
facts = {
    "label": e["LABEL"],
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "command": (settings + " " if settings else "") + "bash bench/run.sh",
    "duration": e["DURATION"],
    "concurrency": e["CONCURRENCY"],
    "machine": e["MACHINE"],
    "load_before": e["LOAD_BEFORE"],
    "load_after": e["LOAD_AFTER"],
    "codex_serve_version": e["CS_VERSION"],
    "oha_version": e["OHA_VERSION"],
    "chatmock_version": e["CM_VERSION"],
    "idle_fresh_kib": int(e["IDLE_FRESH"]),
    "idle_after_load_kib": int(e["IDLE_AFTER"]),
    "idle_after_load_anon_kib": int(e["IDLE_AFTER_ANON"]),
    "memory": None,
    "startup": [],
}
if e["ACT"]:
    act, act_ms = startup("exec → first chat completion, socket handed over (LISTEN_FDS)", e["ACT"])
    plain, plain_ms = startup(
        "exec → first chat completion, codex-serve binds the socket (polled every 100 µs)", e["PLAIN"])
    facts["memory"] = {
        "streams_wanted": int(e["STREAMS"]),
        "streams_open_client": int(e["OPEN_CLIENT"]),
        "streams_open_upstream": int(e["OPEN_UPSTREAM"]),
        "streams_rss_kib": int(e["STREAMS_RSS"]),
        "streams_hwm_kib": int(e["STREAMS_HWM"]),
    }
    facts["startup"] = [act, plain]
    facts["cold_start_ms"] = act_ms if act_ms is not None else plain_ms
    facts["cold_start_what"] = "activated socket" if act_ms is not None else "plain socket; activation n/a"
with open(os.path.join(e["RESULTS"], "facts.json"), "w") as f:
    json.dump(facts, f, indent=2)
EOF
"$PY" "$ROOT/bench/report.py" "$RESULTS" | tee "$RESULTS/table.md"
say "results in ${RESULTS#$ROOT/}"
