#!/usr/bin/env python3
"""Admin page speed: the logs page over 100,000 request-log rows and the keys page over 500 keys.

Usage: tests/bench/pages.py   (after `cargo build --release`; needs only python3)
Target: every page under 300 ms. Prints the median of five loads of each page.
"""
import json, os, re, sqlite3, subprocess, sys, tempfile, time, urllib.request, urllib.parse, http.cookiejar
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.path.join(ROOT, "target", "release", "tidegate")
d = tempfile.mkdtemp()
env = dict(os.environ, TIDEGATE_STORAGE__DATA_DIR=d, TIDEGATE_TELEMETRY__LEVEL="warn", TIDEGATE_ADMIN_PASSWORD="x", TIDEGATE_SERVER__LISTEN="127.0.0.1:18095", TIDEGATE_JOBS__EXPIRE_ROTATED_KEYS="", TIDEGATE_JOBS__WARN_EXPIRING_KEYS="", TIDEGATE_JOBS__PURGE_REQUEST_LOGS="", TIDEGATE_JOBS__PURGE_IDEMPOTENCY_KEYS="")
run = lambda *a: json.loads(subprocess.check_output([B, *a, "--json"], env=env))
acc = run("accounts", "create", "--name", "big")["id"]
keys = [run("keys", "create", "--account", acc, "--name", f"k{i}", "--preset", "full_access") for i in range(5)]
subprocess.check_call([B, "bench-seed", "--account", acc, "--count", "495"], env=env, stderr=subprocess.DEVNULL)
user = run("users", "create", "--email", "o@example.com", "--account", acc, "--role", "owner")
srv = subprocess.Popen([B, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.time() + 30
while True:
    try:
        urllib.request.urlopen("http://127.0.0.1:18095/healthz").read(); break
    except Exception:
        if time.time() > deadline: raise
        time.sleep(0.05)
req = urllib.request.Request("http://127.0.0.1:18095/v1/status", headers={"Authorization": "Bearer " + keys[0]["key"]})
urllib.request.urlopen(req).read()
db = sqlite3.connect(os.path.join(d, "tidegate.db"))
row = db.execute("SELECT * FROM request_logs LIMIT 1").fetchone()
cols = [c[1] for c in db.execute("PRAGMA table_info(request_logs)")]
rows = []
for i in range(100_000):
    r = list(row); r[0] = -100_001 + i; r[1] = f"req_{i:032x}"; r[2] = keys[i % 5]["id"]; r[10] = [200, 200, 200, 403, 429][i % 5]
    r[11] = None if r[10] == 200 else ("BSE1003" if r[10] == 403 else "BSE1005"); r[-1] = row[-1] - (100_000 - i) * 1000
    rows.append(r)
db.executemany(f"INSERT INTO request_logs VALUES ({','.join('?'*len(cols))})", rows); db.commit()
jar = http.cookiejar.CookieJar(); op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
op.add_handler(NoRedirect())
page = op.open("http://127.0.0.1:18095/login").read().decode()
csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
try:
    op.open("http://127.0.0.1:18095/login", urllib.parse.urlencode({"email": "o@example.com", "password": user["password"], "csrf": csrf}).encode())
except urllib.error.HTTPError as e:
    pass
for path in ["/logs", "/logs?status=4xx", "/logs?key=" + keys[3]["id"], "/logs?q=bye_", "/logs?until=2000-01-01", "/keys"]:
    times = []
    for _ in range(5):
        t = time.perf_counter(); body = op.open("http://127.0.0.1:18095" + path).read(); times.append((time.perf_counter() - t) * 1000)
    median = sorted(times)[2]
    mark = "" if median <= 300 else "  MISSED (target 300 ms)"
    print(f"{path[:45]:45s} median {median:7.1f} ms  ({len(body)//1024} KiB, {body.count(b'<tr>')} rows){mark}")
srv.terminate(); srv.wait()
import shutil; shutil.rmtree(d, ignore_errors=True)
