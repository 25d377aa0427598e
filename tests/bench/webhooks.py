#!/usr/bin/env python3
"""Webhook benchmark against a running Tidegate, with a fast receiver of its own on loopback.

1. Deliveries per second: endpoints are added disabled, so the events of a few hundred new keys
   queue for them; then each is enabled and told to deliver its queued events, and the time until
   the receiver has had them all is measured (the deliverer draining a backlog).
2. Latency: generations on the local provider, with an endpoint listening to
   generation.completed; for each, from the commit of its success (the record's
   generation_completed_at) to the receiver getting the event.

Usage: webhooks.py --base http://127.0.0.1:PORT --key FULL_ACCESS_KEY --manager KEY_MANAGEMENT_KEY
                   [--endpoints 10] [--keys 300] [--generations 100]
"""

import argparse
import asyncio
import datetime
import http.client
import json
import sys
import threading
import time
import urllib.parse


class Receiver:
    """Answers 200 at once to every request; records when each event arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.arrived = []  # (monotonic seconds, wall ms, event, generation id)
        self.ready = threading.Event()
        self.port = None
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self):
        asyncio.run(self._serve())

    async def _serve(self):
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        async with server:
            await server.serve_forever()

    async def _connection(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                now = (time.monotonic(), time.time() * 1000)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                event = headers.get("x-babysea-event", "")
                generation = None
                if event.startswith("generation."):
                    generation = json.loads(body)["webhook_data"]["generation_id"]
                with self.lock:
                    self.arrived.append((now[0], now[1], event, generation))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def count(self, event):
        with self.lock:
            return sum(1 for a in self.arrived if a[2] == event)

    def of(self, event):
        with self.lock:
            return [a for a in self.arrived if a[2] == event]


class Client:
    def __init__(self, base, key):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        payload = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=payload, headers=self.headers)
        res = self.conn.getresponse()
        data = json.loads(res.read() or b"null")
        if res.status != 200:
            raise RuntimeError(f"{method} {path} -> {res.status}: {data}")
        return data["data"]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.002)


def millis(rfc3339):
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--manager", required=True)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--keys", type=int, default=300)
    ap.add_argument("--generations", type=int, default=100)
    args = ap.parse_args()
    receiver = Receiver()
    url = f"http://127.0.0.1:{receiver.port}/hooks"
    api = Client(args.base, args.manager)

    # 1. A backlog of apikey.created deliveries, drained.
    endpoints = [
        api.call("POST", "/api/v1/webhooks",
                 {"url": url, "events": ["apikey.created"], "enabled": False})["id"]
        for _ in range(args.endpoints)
    ]
    for n in range(args.keys):
        api.call("POST", "/api/v1/api-keys", {"name": f"webhook bench {n}", "preset": "read_only"})
    total = args.endpoints * args.keys
    began = time.monotonic()
    for endpoint in endpoints:
        api.call("PATCH", f"/api/v1/webhooks/{endpoint}", {"enabled": True})
        api.call("POST", f"/api/v1/webhooks/{endpoint}/deliver-queued")
    wait_until(lambda: receiver.count("apikey.created") >= total, 120, f"{total} deliveries")
    last = max(a[0] for a in receiver.of("apikey.created"))
    rate = total / (last - began)
    for endpoint in endpoints:
        api.call("DELETE", f"/api/v1/webhooks/{endpoint}")

    # 2. From the commit of a generation's success to its generation.completed arriving.
    api.call("POST", "/api/v1/webhooks", {"url": url, "events": ["generation.completed"]})
    v1 = Client(args.base, args.key)
    latencies = []
    for n in range(args.generations):
        created = v1.call("POST", "/v1/generate/image/tidegate/pattern-1",
                          {"generation_prompt": f"webhook latency {n}", "seed": n})
        gid = created["generation_id"]
        wait_until(lambda: any(a[3] == gid for a in receiver.of("generation.completed")), 30,
                   f"generation.completed of {gid}")
        record = v1.call("GET", f"/v1/content/{gid}")
        arrived = next(a[1] for a in receiver.of("generation.completed") if a[3] == gid)
        latencies.append(arrived - millis(record["generation_completed_at"]))
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    mark = lambda ok: "" if ok else "MISSED"
    print(f"webhook deliveries: {total} to {args.endpoints} endpoints in {last - began:.2f} s = "
          f"{rate:.0f}/s   (target ≥ 1,000/s) {mark(rate >= 1000)}")
    print(f"generation.completed, commit → receiver ({len(latencies)} generations): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms   (target p50 ≤ 50 ms) {mark(p50 <= 50)}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line for the calling script
        print(f"webhook benchmark failed: {e}", file=sys.stderr)
        sys.exit(1)
