#!/usr/bin/env python3
"""How long a revocation through one node takes to reach another node.

Each round creates a Full Access key through node A's management API, uses it once on node B
(so that B has it cached), revokes it through A, and polls B's /v1/status until it answers 401:
the time from the revoke's answer to B's first 401. Prints p50, p99 and the largest, in ms.
"""

import argparse
import http.client
import json
import statistics
import time
import urllib.parse


def request(conn, method, path, key, body=None):
    headers = {"Authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    res = conn.getresponse()
    payload = res.read()
    return res.status, payload


def connect(base):
    url = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--writer", required=True, help="node A base URL")
    parser.add_argument("--reader", required=True, help="node B base URL")
    parser.add_argument("--manager", required=True, help="a key with keys:read and keys:write")
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    a, b = connect(args.writer), connect(args.reader)
    times = []
    for i in range(args.rounds):
        status, body = request(a, "POST", "/api/v1/api-keys", args.manager,
                               {"name": f"propagation {i}", "preset": "full_access"})
        assert status == 200, body
        created = json.loads(body)["data"]
        key, key_id = created["key"], created["id"]
        status, body = request(b, "GET", "/v1/status", key)
        assert status == 200, body
        status, body = request(a, "POST", f"/api/v1/api-keys/{key_id}/revoke", args.manager)
        assert status == 200, body
        revoked = time.perf_counter()
        deadline = revoked + 5
        while True:
            status, _ = request(b, "GET", "/v1/status", key)
            if status == 401:
                times.append((time.perf_counter() - revoked) * 1000)
                break
            assert status == 200, status
            assert time.perf_counter() < deadline, "the revoke did not reach node B within 5 s"
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"revocation through node A refused by node B after: p50 {statistics.median(times):.2f} ms, "
          f"p99 {p99:.2f} ms, max {times[-1]:.2f} ms ({len(times)} rounds)")


if __name__ == "__main__":
    main()
