#!/usr/bin/env python3
"""Stalls in the orders pipeline (#16): POST /orders at a fixed rate for a long time while the
store grows, with each second's POST p50, p99 and max next to the orders stored and the
service's resident memory at that second. Not a test: run it by hand and put its figures and
chart in BENCHMARKS.md.

    bench/stalls.py [--rate 10000] [--seconds 300] [--connections 64] [--data-dir] [--label L]
                    [--binary PATH]

Runs the release binary `kafka-orders --embedded` (in memory, or with --data-dir in a temporary
folder) on free ports, and bench's `http-load` (open loop: latencies from when each request was
due, so a stall counts for every request it held up). Writes bench/results/stalls-<label>.csv
(one line a second) and .svg (the chart), and prints a JSON summary: requests, errors, worst
windows, orders stored (each accepted order once: the Orders API's total equals the 2xx count),
RSS per stored order, and the generator's own CPU share.
"""
import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.request

from run import BIN, ORDER, ROOT, TARGET, cpu_seconds, free_port, rss_mb, wait_healthy

LOAD = os.path.join(TARGET, "release", "http-load")
RESULTS = os.path.join(ROOT, "bench", "results")


class Sampler(threading.Thread):
    """Every second: the orders the Orders API holds, and the service's RSS and CPU."""

    def __init__(self, pid, api):
        super().__init__(daemon=True)
        self.pid, self.api, self.rows, self.stop = pid, api, [], threading.Event()

    def run(self):
        start = time.time()
        while not self.stop.is_set():
            try:
                stats = json.load(urllib.request.urlopen(f"{self.api}/orders/stats", timeout=5))
                stored = stats["totalOrders"]
            except OSError:
                stored = None
            self.rows.append((time.time() - start, stored, rss_mb(self.pid), cpu_seconds(self.pid)))
            self.stop.wait(1.0)


def chart(rows, path, title):
    """p99 and max per second (log scale, left) and orders stored (right), as an SVG."""
    w, h, left, right, top, bottom = 900, 360, 60, 70, 30, 40
    pw, ph = w - left - right, h - top - bottom
    n = max(len(rows), 1)
    import math

    def y_ms(ms):
        ms = min(max(ms, 0.1), 1000.0)
        return top + ph * (1 - (math.log10(ms) + 1) / 4)  # 0.1 ms .. 1000 ms

    stored_max = max([r["stored"] or 0 for r in rows] + [1])

    def y_stored(v):
        return top + ph * (1 - (v or 0) / stored_max)

    def x(i):
        return left + pw * i / max(n - 1, 1)

    def line(key, f, color):
        pts = " ".join(f"{x(i):.1f},{f(r[key]):.1f}" for i, r in enumerate(rows) if r[key] is not None)
        return f'<polyline fill="none" stroke="{color}" stroke-width="1.3" points="{pts}"/>'

    grid = "".join(
        f'<line x1="{left}" x2="{left + pw}" y1="{y_ms(v):.1f}" y2="{y_ms(v):.1f}" stroke="#ddd"/>'
        f'<text x="{left - 6}" y="{y_ms(v) + 4:.1f}" text-anchor="end">{v:g} ms</text>'
        for v in (0.1, 1, 10, 50, 100, 1000))
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">
<rect width="{w}" height="{h}" fill="#fff"/>
<text x="{left}" y="18" font-size="13">{title}</text>
{grid}
<line x1="{left}" x2="{left + pw}" y1="{y_ms(10):.1f}" y2="{y_ms(10):.1f}" stroke="#f59e0b" stroke-dasharray="4 3"/>
<line x1="{left}" x2="{left + pw}" y1="{y_ms(50):.1f}" y2="{y_ms(50):.1f}" stroke="#dc2626" stroke-dasharray="4 3"/>
{line("max_ms", y_ms, "#dc2626")}
{line("p99_ms", y_ms, "#f59e0b")}
{line("p50_ms", y_ms, "#2563eb")}
{line("stored", y_stored, "#16a34a")}
<text x="{left + pw + 6}" y="{top + 4}" fill="#16a34a">{stored_max:,}</text>
<text x="{left + pw + 6}" y="{top + ph}" fill="#16a34a">0 stored</text>
<text x="{left}" y="{h - 10}">0 s</text><text x="{left + pw}" y="{h - 10}" text-anchor="end">{n - 1} s</text>
<text x="{left + 120}" y="{h - 10}" fill="#2563eb">p50</text><text x="{left + 160}" y="{h - 10}" fill="#f59e0b">p99 (target 10 ms)</text>
<text x="{left + 290}" y="{h - 10}" fill="#dc2626">max (target 50 ms)</text><text x="{left + 420}" y="{h - 10}" fill="#16a34a">orders stored</text>
</svg>"""
    with open(path, "w") as f:
        f.write(svg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--data-dir", action="store_true")
    ap.add_argument("--label", default=None)
    ap.add_argument("--binary", default=BIN, help="the kafka-orders to measure (default: this tree's release build)")
    args = ap.parse_args()
    label = args.label or f"{'data-dir' if args.data_dir else 'memory'}-{args.rate}"
    os.makedirs(RESULTS, exist_ok=True)
    p, a = free_port(), free_port()
    env = {**os.environ, "RUST_LOG": "warn", "KAFKA_ORDERS_PRODUCER_LISTEN": f"127.0.0.1:{p}",
           "KAFKA_ORDERS_ORDERS_API_LISTEN": f"127.0.0.1:{a}", "KAFKA_ORDERS_ORDERS_API_URL": f"http://127.0.0.1:{a}",
           "KAFKA_ORDERS_CONSUMER_LISTEN": f"127.0.0.1:{free_port()}", "KAFKA_ORDERS_CONSOLE_LISTEN": f"127.0.0.1:{free_port()}",
           "KAFKA_ORDERS_BROKER_LISTEN": f"127.0.0.1:{free_port()}"}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [args.binary, "--embedded"] + (["--data-dir", tmp] if args.data_dir else [])
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_healthy(f"http://127.0.0.1:{p}", "readyz")
            body = os.path.join(tmp, "order.json")
            with open(body, "w") as f:
                json.dump(ORDER, f)
            sampler = Sampler(proc.pid, f"http://127.0.0.1:{a}")
            per_second = os.path.join(tmp, "per-second.csv")
            cpu0 = cpu_seconds(proc.pid)
            sampler.start()
            out = subprocess.run([LOAD, "--url", f"http://127.0.0.1:{p}/orders", "--body", body, "--rate", str(args.rate),
                                  "--seconds", str(args.seconds), "--connections", str(args.connections), "--csv", per_second],
                                 check=True, capture_output=True, text=True).stdout
            summary = json.loads(out)
            accepted = summary["requests"] - summary["errors"]
            deadline = time.time() + 120
            while time.time() < deadline and (sampler.rows[-1][1] or 0) < accepted:
                time.sleep(0.5)
            sampler.stop.set()
            sampler.join()
            service_cpu = cpu_seconds(proc.pid) - cpu0
            stored, rss = sampler.rows[-1][1], sampler.rows[-1][2]
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        load = [dict(zip(["second", "requests", "errors", "p50_ms", "p99_ms", "max_ms"], map(float, line.split(","))))
                for line in open(per_second).read().splitlines()[1:]]
    rows = []
    for r in load:
        s = int(r["second"])
        sample = sampler.rows[min(s, len(sampler.rows) - 1)]
        rows.append({**r, "stored": sample[1], "rss_mb": sample[2]})
    with open(os.path.join(RESULTS, f"stalls-{label}.csv"), "w") as f:
        f.write("second,requests,errors,p50_ms,p99_ms,max_ms,stored,rss_mb\n")
        for r in rows:
            f.write(f"{int(r['second'])},{int(r['requests'])},{int(r['errors'])},{r['p50_ms']},{r['p99_ms']},{r['max_ms']},{r['stored']},{r['rss_mb']:.0f}\n")
    chart(rows, os.path.join(RESULTS, f"stalls-{label}.svg"),
          f"POST /orders at {args.rate:,}/s for {args.seconds} s ({label}): latency per second and orders stored")
    print(json.dumps({**summary, "label": label, "accepted": accepted, "stored": stored, "stored_once": stored == accepted,
                      "rss_mb": round(rss), "rss_bytes_per_order": round(rss * 1048576 / max(stored or 1, 1)),
                      "service_cpu_percent": round(100 * service_cpu / args.seconds)}, indent=1))


if __name__ == "__main__":
    main()
