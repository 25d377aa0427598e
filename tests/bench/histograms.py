#!/usr/bin/env python3
"""Distributions between two /metrics snapshots of a Tidegate server.

Usage: histograms.py BEFORE AFTER SECONDS   (files holding the text of GET /metrics)

For each latency histogram of the request path (the log writer's row wait and commit, the relay's
wake-up, the WAL checkpoints) it prints how many were recorded per second between the two
snapshots and the p50, p99 and p99.9 of those, as the upper bound of the power-of-two bucket that
holds them (so each figure is within a factor of two), and the largest bucket reached.
"""
import re
import sys

LINE = re.compile(r'^(\w+)_bucket\{le="([^"]+)"\} (\d+)$')


def buckets(path):
    found = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line.strip())
            if m:
                name, le, n = m.group(1), m.group(2), int(m.group(3))
                found.setdefault(name, []).append((float("inf") if le == "+Inf" else float(le), n))
    return found


def fmt(seconds):
    if seconds == float("inf"):
        return "   >8 s"
    ms = seconds * 1000
    return f"{ms:7.3f}" if ms < 10 else f"{ms:7.1f}"


def main():
    before, after, seconds = buckets(sys.argv[1]), buckets(sys.argv[2]), float(sys.argv[3])
    print(f"{'distribution (ms, bucket upper bound)':<40} {'per s':>8} {'p50':>7} {'p99':>7} {'p99.9':>7} {'max':>7}")
    for name, rows in after.items():
        old = dict(before.get(name, []))
        cumulative = [(le, n - old.get(le, 0)) for le, n in rows]
        total = cumulative[-1][1] if cumulative else 0
        if total == 0:
            print(f"{name:<40} {0:>8}")
            continue

        def quantile(q):
            for le, n in cumulative:
                if n >= q * total:
                    return le
            return float("inf")

        largest = next(le for le, n in cumulative if n == total)
        short = name.removeprefix("tidegate_").removesuffix("_seconds")
        print(f"{short:<40} {total / seconds:8.1f} {fmt(quantile(0.5))} {fmt(quantile(0.99))} "
              f"{fmt(quantile(0.999))} {fmt(largest)}")


if __name__ == "__main__":
    main()
