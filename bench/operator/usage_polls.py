# Load for the usage-poll figure: codex-serve on a Unix socket against the mock, 8 clients for DURATION s.
import tempfile, json, os, socket, subprocess, sys, threading, time, http.client
BIN = os.environ.get("BIN", "target/debug")
DUR = float(sys.argv[1]) if len(sys.argv) > 1 else 130
d = tempfile.mkdtemp(prefix="usage-polls-")
mock = subprocess.Popen(["timeout", str(int(DUR) + 60), f"{BIN}/codex-mock"], stdout=subprocess.PIPE, stdin=subprocess.PIPE)
url = mock.stdout.readline().decode().split()[1]
host = url.split("//")[1]
c = http.client.HTTPConnection(host); c.request("POST", "/_mock/issue_tokens", json.dumps({"account_id": "acc-1", "exp_in_secs": 7200}))
t = json.loads(c.getresponse().read())
home = f"{d}/home"; os.makedirs(home, exist_ok=True)
json.dump({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": {"id_token": t["id_token"], "access_token": t["access_token"], "refresh_token": t["refresh_token"], "account_id": "acc-1"}, "last_refresh": "2026-12-01T10:00:00Z"}, open(f"{home}/auth.json", "w"))
os.chmod(f"{home}/auth.json", 0o600)
sock = f"{d}/s.sock"
if os.path.exists(sock): os.unlink(sock)
log = open(f"{d}/serve.log", "w")
env = dict(os.environ, XDG_CONFIG_HOME=f"{d}/cfg")
srv = subprocess.Popen(["timeout", str(int(DUR) + 30), f"{BIN}/codex-serve", "--socket", sock, "--codex-home", home, "--upstream-url", url, "--auth-url", url, "-v", "--log-format", "json"], stderr=log, env=env)
while not os.path.exists(sock): time.sleep(0.05)
body = json.dumps({"model": "gpt-5.5", "messages": [{"role": "user", "content": "hello"}]})
count = [0]; stop = time.time() + DUR
def client():
    while time.time() < stop:
        s = socket.socket(socket.AF_UNIX); s.connect(sock)
        s.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n{body}".encode())
        while s.recv(65536): pass
        s.close(); count[0] += 1
ths = [threading.Thread(target=client) for _ in range(8)]
[x.start() for x in ths]; [x.join() for x in ths]
time.sleep(0.5)
srv.terminate(); srv.wait(); mock.stdin.close(); mock.terminate()
polls = [json.loads(l) for l in open(f"{d}/serve.log") if "rate limits from the usage endpoint" in l]
print(f"{count[0]} requests in {DUR:.0f} s ({count[0]/DUR:.0f}/s) from 8 clients; usage endpoint asked {len(polls)} times at", [p["timestamp"][11:19] for p in polls])
