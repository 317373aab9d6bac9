# Start-up to a connectable socket, with and without a config file (and the codex CLI's config.toml).
import tempfile, os, socket, statistics, subprocess, sys, time
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/debug/codex-serve"
d = tempfile.mkdtemp(prefix="startup-"); os.makedirs(f"{d}/cfg/codex-serve", exist_ok=True); os.makedirs(f"{d}/home", exist_ok=True)
open(f"{d}/cfg/codex-serve/config.toml", "w").write('max-upstream = 16\nreasoning-summary = "concise"\nmax-body-bytes = 4194304\nallow-host = ["devbox.lan"]\nmodel-map = ["claude-*=gpt-5.5"]\nupstream-idle-timeout = 120\n')
open(f"{d}/home/config.toml", "w").write('model = "gpt-5.5"\nprofile = "p"\n[profiles.p]\nmodel_reasoning_effort = "high"\n')
def run(with_file):
    env = dict(os.environ, XDG_CONFIG_HOME=f"{d}/cfg" if with_file else f"{d}/none", CODEX_HOME=f"{d}/home" if with_file else f"{d}/nohome")
    sock = f"{d}/s.sock"
    if os.path.exists(sock): os.unlink(sock)
    t0 = time.perf_counter()
    p = subprocess.Popen([BIN, "--socket", sock, "--upstream-url", "http://127.0.0.1:9"], env=env, stderr=subprocess.DEVNULL)
    while True:
        try:
            s = socket.socket(socket.AF_UNIX); s.connect(sock); s.close(); break
        except OSError: time.sleep(0.0005)
    t = time.perf_counter() - t0
    p.terminate(); p.wait()
    return t * 1000
for with_file in (False, True):
    runs = [run(with_file) for _ in range(30)]
    print(f"{'with' if with_file else 'without'} config files: median {statistics.median(runs):.1f} ms, min {min(runs):.1f}, max {max(runs):.1f} (30 runs)")
