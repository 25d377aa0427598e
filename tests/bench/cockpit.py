#!/usr/bin/env python3
"""Admin page latency over a big store: 1,000,000 request-log rows and 10,000 keys.

Usage: tests/bench/cockpit.py [--logs N] [--keys N] [--days D] [--runs N] [--warmup N]
  after `cargo build --release`; it builds nothing. It measures target/release/tidegate (under
  $CARGO_TARGET_DIR when set), or the binary BENCH_BIN names. Needs only python3.

In a temporary data directory it creates an account, 5 keys with `keys create`, the other
keys with `bench-seed --count`, then the request-log rows with `bench-seed --logs`, spread over
the last D days (90) and written through the request-log writer's own commit, which also fills
the daily roll-ups and the keys' last use. It then creates an owner, starts `tidegate serve` on
a free loopback port, signs in, and loads each admin page 3 times to warm up and 20 times timed,
one request at a time on one connection. It prints p50 and p95 (ms), status and body size of
each page; `MISSED (target 100 ms p95)` marks a page over target. With a million rows a page
that read the log instead of the roll-ups (or beyond the rows it shows) would be far over.

Exit status: 1 if a page answers anything but 200 (a redirect included), except `/` while it
still redirects to another page (no dashboard yet: said so in the table); 0 otherwise, even
with targets missed.
"""
import argparse, http.client, json, os, re, shutil, sqlite3, subprocess, sys, tempfile, threading, time
import urllib.parse

TARGET_P95_MS = 100.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def binary():
    if os.environ.get("BENCH_BIN"):
        return os.environ["BENCH_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "tidegate")


def log(msg):
    print(f"cockpit: {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection with a cookie jar: what a browser tab does, minus the assets."""

    def __init__(self, host, port):
        self.host, self.port, self.cookies, self.conn = host, port, {}, None

    def request(self, method, path, form=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                res = self.conn.getresponse()
                data = res.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        for cookie in res.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in cookie.lower():
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        return res.status, res.getheader("Location"), data


def csrf_of(page):
    found = re.search(rb'name="csrf" value="([^"]+)"', page)
    if not found:
        raise SystemExit("cockpit: error: no CSRF field in the form")
    return found.group(1).decode()


def sign_in(client, email, password):
    _, _, page = client.request("GET", "/login")
    status, to, _ = client.request("POST", "/login", {"email": email, "password": password, "csrf": csrf_of(page)})
    if status != 303:
        raise SystemExit(f"cockpit: error: signing in answered {status}, expected 303")
    # A user made on the command line changes the one-time password first.
    status, to, _ = client.request("GET", "/keys")
    if status == 303 and to and to.startswith("/password"):
        _, _, page = client.request("GET", "/password")
        new = "cockpit-bench-password-1"
        status, to, _ = client.request("POST", "/password", {
            "csrf": csrf_of(page), "current_password": password, "new_password": new, "confirm_password": new})
        if status != 303:
            raise SystemExit(f"cockpit: error: changing the one-time password answered {status}")


def percentile(sorted_ms, p):
    """Nearest-rank percentile."""
    rank = max(1, -(-len(sorted_ms) * p // 100))
    return sorted_ms[int(rank) - 1]


def cpu_busy():
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]
    try:
        (t0, i0), _ = sample(), time.sleep(1)
        t1, i1 = sample()
        return f"{100 * (1 - (i1 - i0) / max(1, t1 - t0)):.0f}%"
    except OSError:
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description="Admin page latency over a big store.")
    ap.add_argument("--logs", type=int, default=1_000_000, help="request-log rows (1,000,000)")
    ap.add_argument("--keys", type=int, default=10_000, help="keys in all, 5 made with keys create (10,000)")
    ap.add_argument("--days", type=int, default=90, help="days the rows are spread over (90)")
    ap.add_argument("--runs", type=int, default=20, help="timed loads of each page (20)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed loads first (3)")
    args = ap.parse_args()
    b = binary()
    if not os.access(b, os.X_OK):
        raise SystemExit(f"cockpit: error: no binary at {b}: run `cargo build --release` or set BENCH_BIN")
    log(f"binary: {b}")
    data = tempfile.mkdtemp(prefix="tidegate-cockpit.")
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG" and not k.startswith("TIDEGATE_")}
    env.update(TIDEGATE_STORAGE__DATA_DIR=data, TIDEGATE_TELEMETRY__LEVEL="warn",
               TIDEGATE_ADMIN_PASSWORD="cockpit-admin-password", TIDEGATE_SERVER__LISTEN="127.0.0.1:0")
    # No scheduled job runs while measuring (the nightly purge would drop rows past retention).
    for job in ("EXPIRE_ROTATED_KEYS", "WARN_EXPIRING_KEYS", "PURGE_REQUEST_LOGS",
                "PURGE_IDEMPOTENCY_KEYS", "FAIL_STUCK_GENERATIONS"):
        env[f"TIDEGATE_JOBS__{job}"] = ""
    server = None
    try:
        def run(*a):
            out = subprocess.run([b, *a, "--json"], env=env, check=True, stdout=subprocess.PIPE)
            return json.loads(out.stdout)

        # The store is made by the server's first start.
        first = subprocess.Popen([b, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for line in first.stdout:
            if line.startswith(b"Tidegate listening on"):
                break
        first.terminate()
        first.wait()
        account = run("accounts", "create", "--name", "cockpit")["id"]
        real = [run("keys", "create", "--account", account, "--name", f"client {i}", "--preset", "full_access")
                for i in range(5)]
        extra = max(0, args.keys - len(real))
        t = time.monotonic()
        if extra:
            run("bench-seed", "--account", account, "--count", str(extra))
        keys_s = time.monotonic() - t
        log(f"bench-seed stored {extra} keys in {keys_s:.1f} s")
        t = time.monotonic()
        seeded = run("bench-seed", "--account", account, "--logs", str(args.logs), "--days", str(args.days))
        logs_s = time.monotonic() - t
        log(f"bench-seed wrote {args.logs} request-log rows in {logs_s:.1f} s")
        busiest = seeded["busiest_key"] or real[0]["id"]
        user = run("users", "create", "--email", "owner@example.com", "--account", account, "--role", "owner")

        db = sqlite3.connect(f"file:{os.path.join(data, 'tidegate.db')}?mode=ro", uri=True)
        count = lambda sql, *p: db.execute(sql, p).fetchone()[0]
        stored = {
            "keys": count("SELECT count(*) FROM api_keys WHERE account_id = ?", account),
            "request_logs": count("SELECT count(*) FROM request_logs"),
            "usage_daily": count("SELECT count(*) FROM usage_daily"),
            "usage_daily_errors": count("SELECT count(*) FROM usage_daily_errors"),
        }
        busiest_rows = count("SELECT count(*) FROM request_logs WHERE key_id = ?", busiest)
        rolled = count("SELECT COALESCE(SUM(requests), 0) FROM usage_daily WHERE account_id = ?", account)
        db.close()
        if rolled != stored["request_logs"]:
            raise SystemExit(f"cockpit: error: the roll-ups count {rolled} requests, the log {stored['request_logs']}")

        server = subprocess.Popen([b, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        address = None
        deadline = time.monotonic() + 120
        for line in server.stdout:
            found = re.match(rb"Tidegate listening on http://(\S+)", line)
            if found:
                address = found.group(1).decode()
                break
            if time.monotonic() > deadline:
                break
        if not address:
            raise SystemExit("cockpit: error: the server did not say where it listens")
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        host, port = address.rsplit(":", 1)
        client = Client(host, int(port))
        sign_in(client, "owner@example.com", user["password"])

        pages = ["/", "/keys", "/keys?need=expiring", f"/keys/{busiest}", f"/keys/{busiest}?range=24h",
                 f"/keys/{busiest}?range=90d", "/usage", "/usage?range=24h", "/usage?range=90d", "/logs",
                 "/logs?status=4xx", f"/logs?key={busiest}", "/logs?q=bye_", "/logs?until=2000-01-01"]
        busy = cpu_busy()
        results, failed = [], []
        for path in pages:
            for _ in range(args.warmup):
                client.request("GET", path)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                status, to, body = client.request("GET", path)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            results.append((path, status, to, body, times))

        print()
        print(f"== admin pages: {stored['keys']:,} keys, {stored['request_logs']:,} request-log rows over "
              f"{args.days} days; {args.warmup} warm-up + {args.runs} timed loads each, loopback, "
              f"{os.cpu_count()} CPUs")
        print(f"   seeding: {extra:,} keys in {keys_s:.1f} s, {args.logs:,} request-log rows in {logs_s:.1f} s "
              f"(bench-seed, through the request-log writer's commit)")
        print("   stored: " + ", ".join(f"{k} {v:,}" for k, v in stored.items()))
        print(f"{'page':48s} {'status':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'KiB':>6s} {'rows':>5s}")
        shown = lambda p: p.replace(busiest, "{busiest}")
        for path, status, to, body, times in results:
            p50, p95 = percentile(times, 50), percentile(times, 95)
            note = ""
            if status != 200:
                if path == "/" and status in (302, 303) and to and to != "/login":
                    note = f"  REDIRECT to {to}: no dashboard yet (not counted as a failure)"
                else:
                    note = f"  FAILED: answered {status}" + (f" to {to}" if to else "")
                    failed.append(path)
            elif p95 > TARGET_P95_MS:
                note = f"  MISSED (target {TARGET_P95_MS:.0f} ms p95)"
            print(f"{shown(path)[:48]:48s} {status:6d} {p50:8.1f} {p95:8.1f} {len(body) / 1024:6.0f} "
                  f"{body.count(b'<tr'):5d}{note}")
        print(f"{{busiest}} = {busiest}, the busiest key: {busiest_rows:,} rows")
        print(f"CPU busy in the second before measuring: {busy}   (other work on the machine skews the figures)")
        if failed:
            print(f"FAILED: {', '.join(map(shown, failed))} did not answer 200")
            return 1
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"data directory kept: {data}")
        else:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
