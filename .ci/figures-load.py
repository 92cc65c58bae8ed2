#!/usr/bin/env python3
"""Bounded loopback load test of capsnet serve: a fixed number of POST /api/predict requests (test digit 0) from a few
keep-alive connections; prints p50/p99 latency and the error count, exits 1 on any error."""
import argparse, http.client, json, statistics, threading, time, urllib.parse


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=4)
    a = p.parse_args()
    u = urllib.parse.urlsplit(a.url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/api/digit/0")
    digit = bytes(json.loads(c.getresponse().read())["pixels"])
    c.close()
    latencies, errors, lock, remaining = [], [], threading.Lock(), [a.requests]

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            with lock:
                if remaining[0] == 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                conn.request("POST", "/api/predict", body=digit, headers={"Content-Type": "application/octet-stream"})
                r = conn.getresponse()
                body = r.read()
                ok = r.status == 200 and json.loads(body)["class"] == 7
            except Exception as e:  # a failed request is counted, not fatal
                ok, body = False, repr(e).encode()
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(body[:200])
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(a.concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    print(f"serve load: {len(ms)} requests, {a.concurrency} concurrent, {wall:.1f} s, {len(ms) / wall:.0f} requests/s, "
          f"p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {ms[-1]:.2f} ms, errors {len(errors)}")
    if errors:
        print("first error:", errors[0])
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
