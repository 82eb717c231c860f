#!/usr/bin/env python3
"""The orders pipeline with each Orders API store, and with two instances of each service on
PostgreSQL, in the same run: orders/s accepted and stored, and the POST tail. Not a test: run
it by hand and put its table in BENCHMARKS.md.

    bench/scale_out.py [--seconds 15] [--runs 3] [--connections 32]

Needs the release binary (cargo build --release), wrk (Debian's package) and a PostgreSQL
server (fixtures/postgres/postgres.sh start). Every configuration runs as separate processes
(producer, consumer, Orders API) against one built-in broker (`kafka-orders broker`, in memory,
4 partitions); wrk sends the seed's order with 32 connections in all, split between the
producers, for a fixed time. Stored/s: the orders the Orders APIs hold, divided by the time from
the start of the load until they hold every accepted order.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid

from run import BIN, ORDER, ROOT, free_port, wait_healthy

PG = os.path.join(ROOT, "fixtures", "postgres", "postgres.sh")


def scratch_database():
    url = subprocess.run(["bash", PG, "url"], check=True, capture_output=True, text=True).stdout.strip()
    name = f"bench_{uuid.uuid4().hex[:12]}"
    subprocess.run(["bash", PG, "psql", "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return url.rsplit("/", 1)[0] + "/" + name


def wrk(base, connections, seconds, script):
    return subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, f"{base}/orders"],
                            stdout=subprocess.PIPE, text=True)


def parse_wrk(out):
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out).groups()
    p99_ms = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return requests - non_2xx, non_2xx, p99_ms


def run(store, instances, seconds, connections, script):
    """One configuration, once: `instances` of each service, orders kept in `store`."""
    broker = f"127.0.0.1:{free_port()}"
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    procs = []
    base_env = {**os.environ, "RUST_LOG": "warn", "KAFKA_ORDERS_BROKERS": broker, "KAFKA_ORDERS_TOPIC": topic,
                "KAFKA_ORDERS_GROUP": f"group-{topic}", "KAFKA_ORDERS_PARTITIONS": "4"}
    data = tempfile.mkdtemp(prefix="bench-orders-")
    database = scratch_database() if store == "postgres" else None

    def start(*args, **env):
        procs.append(subprocess.Popen([BIN, *args], cwd=ROOT, env={**base_env, **env},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    try:
        start("broker", "--listen", broker, "--partitions", "4")
        apis, producers = [], []
        for n in range(instances):
            api = f"127.0.0.1:{free_port()}"
            store_args = {"sqlite": ["--data-dir", os.path.join(data, str(n))], "memory": []}.get(store, [])
            store_env = {"KAFKA_ORDERS_DATABASE_URL": database} if database else {}
            start("orders-api", "--listen", api, *store_args, **store_env)
            apis.append(f"http://{api}")
        for api in apis:
            wait_healthy(api)
        for n in range(instances):
            start("consumer", "--listen", f"127.0.0.1:{free_port()}", "--orders-api-url", apis[n])
            producer = f"127.0.0.1:{free_port()}"
            store_env = {"KAFKA_ORDERS_DATABASE_URL": database} if database else {}
            start("producer", "--listen", producer, "--orders-api-url", apis[n], **store_env)
            producers.append(f"http://{producer}")
        for producer in producers:
            wait_healthy(producer)
        # A first order through, so the consumers are assigned before the clock starts.
        req = urllib.request.Request(f"{producers[0]}/orders", json.dumps(ORDER).encode(), {"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10)
        stats_url = f"{apis[0]}/orders/stats"
        while json.load(urllib.request.urlopen(stats_url, timeout=5))["totalOrders"] < 1:
            time.sleep(0.05)

        started = time.time()
        loads = [wrk(p, connections // instances, seconds, script) for p in producers]
        results = [parse_wrk(load.communicate()[0]) for load in loads]
        accepted = sum(r[0] for r in results) + 1
        load_end = time.time()

        def held():
            return sum(json.load(urllib.request.urlopen(f"{api}/orders/stats", timeout=5))["totalOrders"] for api in apis)

        # With PostgreSQL every Orders API sees every order: count once.
        count = (lambda: held() // instances) if store == "postgres" else held
        while time.time() - load_end < 120 and (stored := count()) < accepted:
            time.sleep(0.1)
        return {"accepted_s": (accepted - 1) / (load_end - started), "stored_s": stored / (time.time() - started),
                "non_2xx": sum(r[1] for r in results), "p99": max(r[2] for r in results)}
    finally:
        # Newest first, each stopped before the next, so a consumer leaves while its broker is up.
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    script = os.path.join(tempfile.mkdtemp(), "post.lua")
    with open(script, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(ORDER))}\nwrk.headers["Content-Type"] = "application/json"\n')
    configurations = [("memory", 1), ("sqlite", 1), ("postgres", 1), ("postgres", 2)]
    figures = {c: [] for c in configurations}
    # Runs interleaved, so that a noisy moment of the shared machine hits every configuration.
    for _ in range(args.runs):
        for c in configurations:
            figures[c].append(run(*c, args.seconds, args.connections, script))
            print(c, figures[c][-1], flush=True)

    def med(c, key, digits=0):
        values = [f[key] for f in figures[c]]
        return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})"

    print(f"\n`bench/scale_out.py --seconds {args.seconds} --runs {args.runs} --connections {args.connections}`\n")
    print("| Orders API store | instances of each service | stored orders/s | POST accepted/s | non-2xx | p99 POST ms |")
    print("|---|---|---|---|---|---|")
    for c in configurations:
        print(f"| {c[0]} | {c[1]} | {med(c, 'stored_s')} | {med(c, 'accepted_s')} | {med(c, 'non_2xx')} | {med(c, 'p99', 1)} |")
    base = statistics.median(f["stored_s"] for f in figures[("memory", 1)])
    for c in configurations[1:]:
        print(f"stored/s of {c[0]} x{c[1]} / memory x1: {statistics.median(f['stored_s'] for f in figures[c]) / base:.2f}")


if __name__ == "__main__":
    main()
