#!/usr/bin/env python3
"""Generation benchmark against a running Tidegate: submit -> succeeded latency on the `local`
provider (sequential), then generations per second with N concurrent clients, each submitting
and polling until its generation is done.

Usage: generations.py --base http://127.0.0.1:PORT --key KEY [--model tidegate/pattern-1]
                      [--samples 50] [--clients 32] [--seconds 10]
"""

import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse

TERMINAL = {"succeeded", "failed", "canceled"}


class Client:
    def __init__(self, base, key):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        payload = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=payload, headers=self.headers)
        res = self.conn.getresponse()
        data = json.loads(res.read())
        if res.status != 200:
            raise RuntimeError(f"{method} {path} -> {res.status}: {data}")
        return data["data"]

    def generate_and_wait(self, model, n):
        started = time.perf_counter()
        created = self.call("POST", f"/v1/generate/image/{model}",
                            {"generation_prompt": f"benchmark image {n}", "seed": n})
        gid = created["generation_id"]
        while True:
            record = self.call("GET", f"/v1/content/{gid}")
            if record["generation_status"] in TERMINAL:
                if record["generation_status"] != "succeeded":
                    raise RuntimeError(f"generation {gid} ended {record['generation_status']}")
                return time.perf_counter() - started
            time.sleep(0.002)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--model", default="tidegate/pattern-1")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()

    client = Client(args.base, args.key)
    client.generate_and_wait(args.model, 999_999_999)  # warm-up
    latencies = [client.generate_and_wait(args.model, i) * 1000 for i in range(args.samples)]
    p50 = statistics.median(latencies)

    done = [0] * args.clients
    errors = []
    deadline = time.perf_counter() + args.seconds

    def worker(i):
        c = Client(args.base, args.key)
        n = 0
        try:
            while time.perf_counter() < deadline:
                c.generate_and_wait(args.model, 100_000 * (i + 1) + n)
                n += 1
                done[i] += 1
        except Exception as e:  # reported below; the benchmark fails
            errors.append(str(e))

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = sum(done)

    print(f"== generations on local ({args.model}, PNG 1:1)")
    print(f"submit -> succeeded, {args.samples} sequential: p50 {p50:.1f} ms, "
          f"p95 {percentile(latencies, 95):.1f} ms, max {max(latencies):.1f} ms"
          f"   (target p50 <= 200 ms) {'' if p50 <= 200 else 'MISSED'}")
    print(f"{args.clients} concurrent clients for {elapsed:.1f} s: {total} generations, "
          f"{total / elapsed:.1f} generations/s")
    if errors:
        print(f"errors: {len(errors)}; first: {errors[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
