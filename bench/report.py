"""Turns one benchmark run's results directory into the table `bench/run.sh` prints (Markdown).

usage: python3 report.py RESULTS_DIR

The directory holds `oha-<row>-<mode>-c<N>.json` (oha's JSON output), `na-<row>` files for rows that could
not run (their text says why), and `facts.json` (machine, memory, start-up, versions) written by run.sh.
"""

import json
import os
import sys

ROWS = [
    ("direct", "upstream directly (TCP)"),
    ("socket", "codex-serve, Unix socket"),
    ("tcp", "codex-serve, TCP"),
    ("chatmock", "ChatMock (TCP)"),
]
MODES = [("plain", "non-streaming"), ("stream", "streaming")]


def load(results, row, mode, c):
    path = os.path.join(results, f"oha-{row}-{mode}-c{c}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        d = json.load(f)
    codes = d.get("statusCodeDistribution") or {}
    ok = sum(n for code, n in codes.items() if code.startswith("2"))
    answered = sum(codes.values())
    # Requests still in flight when the run's time was up are not failures.
    errors = sum(
        n for e, n in (d.get("errorDistribution") or {}).items() if "deadline" not in e
    )
    total = answered + errors
    up = None
    up_path = os.path.join(results, f"upstream-{row}-{mode}-c{c}.json")
    if os.path.exists(up_path):
        with open(up_path) as f:
            u = json.load(f)
        up = {k: u["after"][k] - u["before"][k] for k in ("requests", "connections")}
    return {
        "upstream": up,
        "rps": ok / d["summary"]["total"] if d["summary"]["total"] else 0.0,
        "p50": d["latencyPercentiles"]["p50"],
        "p99": d["latencyPercentiles"]["p99"],
        "success": ok / total if total else 0.0,
        "n": total,
    }


def ms(x):
    return "–" if x is None else f"{x * 1000:.3f}"


def main():
    results = sys.argv[1]
    with open(os.path.join(results, "facts.json")) as f:
        facts = json.load(f)
    conc = [int(c) for c in facts["concurrency"].split()]
    na = {}
    ran = [(row, t) for row, t in ROWS
           if os.path.exists(os.path.join(results, f"na-{row}"))
           or any(f.startswith(f"oha-{row}-") for f in os.listdir(results))]
    for row, _ in ran:
        p = os.path.join(results, f"na-{row}")
        if os.path.exists(p):
            with open(p) as f:
                na[row] = f.read().strip()
    data = {
        (row, mode, c): load(results, row, mode, c)
        for row, _ in ROWS
        for mode, _ in MODES
        for c in conc
    }

    out = []
    w = out.append
    label = facts.get("label")
    w(f"## codex-serve benchmark{' — ' + label if label else ''}")
    w("")
    w(f"- date: {facts['date']}")
    w(f"- command: `{facts['command']}` (each cell {facts['duration']}, after a warm-up per target and mode)")
    w(f"- machine: {facts['machine']}")
    w(f"- load average before / after: {facts['load_before']} / {facts['load_after']}")
    w(f"- codex-serve {facts['codex_serve_version']} (release build), oha {facts['oha_version']}, "
      f"ChatMock {facts['chatmock_version']}")
    w("")
    w("### Throughput and latency")
    w("")
    w("| target | mode | c | req/s | p50 ms | p99 ms | success | upstream conns opened |")
    w("| --- | --- | --: | --: | --: | --: | --: | --: |")
    for row, title in ran:
        if row in na:
            w(f"| {title} | – | – | {na[row]} | | | | |")
            continue
        for mode, mtitle in MODES:
            for c in conc:
                r = data[(row, mode, c)]
                if r is None:
                    w(f"| {title} | {mtitle} | {c} | missing | | | | |")
                    continue
                up = r["upstream"]
                conns = f"{up['connections']:,} for {up['requests']:,} requests" if up else "–"
                w(f"| {title} | {mtitle} | {c} | {r['rps']:,.0f} | {ms(r['p50'])} | {ms(r['p99'])} "
                  f"| {r['success'] * 100:.2f}% | {conns} |")
    w("")
    w("The direct row sends the same request to the static upstream, which always answers with the SSE "
      "stream; its two modes differ only in the request body.")
    w("")
    w("### Ratios (codex-serve over the Unix socket)")
    w("")
    w("| mode | c | ÷ direct throughput | ÷ ChatMock throughput | added p50 over direct ms |")
    w("| --- | --: | --: | --: | --: |")
    for mode, mtitle in MODES:
        for c in conc:
            s, d, cm = (data[(r, mode, c)] for r in ("socket", "direct", "chatmock"))
            if s is None or d is None:
                continue
            vs_d = f"{s['rps'] / d['rps'] * 100:.1f}%" if d["rps"] else "–"
            vs_cm = f"{s['rps'] / cm['rps']:.1f}×" if cm and cm["rps"] else "–"
            w(f"| {mtitle} | {c} | {vs_d} | {vs_cm} | {(s['p50'] - d['p50']) * 1000:.3f} |")
    w("")
    m = facts["memory"]
    w("### Memory and start-up")
    w("")
    w("| what | figure |")
    w("| --- | --: |")
    w(f"| RSS idle, fresh (after one /healthz) | {facts['idle_fresh_kib'] / 1024:.1f} MiB |")
    w(f"| RSS idle, 6 s after the load runs above | {facts['idle_after_load_kib'] / 1024:.1f} MiB "
      f"(anonymous {facts['idle_after_load_anon_kib'] / 1024:.1f} MiB; the rest is mapped pages of the binary "
      f"and libc) |")
    if m:
        w(f"| RSS holding {m['streams_wanted']} open streams "
          f"({m['streams_open_client']} open at the client, {m['streams_open_upstream']} at the upstream) "
          f"| {m['streams_rss_kib'] / 1024:.1f} MiB |")
        w(f"| peak RSS of that instance (VmHWM) | {m['streams_hwm_kib'] / 1024:.1f} MiB |")
    for s in facts["startup"]:
        w(f"| start-up, {s['what']} | {s['figure']} |")
    w("")
    w("### Targets (issue #5)")
    w("")
    w("| target | figure | met |")
    w("| --- | --: | :-: |")

    def target(name, value, ok, fmt):
        w(f"| {name} | {fmt(value) if value is not None else '–'} | "
          f"{'–' if value is None else ('yes' if ok(value) else '**no**')} |")

    s, d, cm = (data.get((r, "plain", 16)) for r in ("socket", "direct", "chatmock"))
    target("non-streaming, socket, c=16: ≥ 30 % of direct throughput",
           s and d and s["rps"] / d["rps"], lambda v: v >= 0.30, lambda v: f"{v * 100:.1f}%")
    target("non-streaming, socket, c=16: ≥ 50× ChatMock",
           s and cm and cm["rps"] and s["rps"] / cm["rps"], lambda v: v >= 50, lambda v: f"{v:.1f}×")
    target("non-streaming, socket, c=16: added p50 < 0.3 ms",
           s and d and (s["p50"] - d["p50"]) * 1000, lambda v: v < 0.3, lambda v: f"{v:.3f} ms")
    s1, d1 = data.get(("socket", "plain", 1)), data.get(("direct", "plain", 1))
    target("(same at c=1: added p50 < 0.3 ms)",
           s1 and d1 and (s1["p50"] - d1["p50"]) * 1000, lambda v: v < 0.3, lambda v: f"{v:.3f} ms")
    target("idle RSS < 10 MiB (fresh)", facts["idle_fresh_kib"] / 1024, lambda v: v < 10,
           lambda v: f"{v:.1f} MiB")
    target("idle RSS < 10 MiB (after load)", facts["idle_after_load_kib"] / 1024, lambda v: v < 10,
           lambda v: f"{v:.1f} MiB")
    if m:
        held = m["streams_open_client"] >= m["streams_wanted"]
        target(f"{m['streams_wanted']} open streams < 64 MiB",
               m["streams_rss_kib"] / 1024 if held else None, lambda v: v < 64, lambda v: f"{v:.1f} MiB")
        target(f"cold start to first answer < 20 ms ({facts['cold_start_what']})", facts["cold_start_ms"],
               lambda v: v < 20, lambda v: f"{v:.1f} ms")
    w("")
    w("Streaming forwards each delta before the next is produced: checked by `cargo test --test it "
      "forwarding::` (causal, not timed), not by this script.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
