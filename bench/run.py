#!/usr/bin/env python3
"""Side-by-side benchmarks of the embedded broker and Apache Kafka: same machine, same
clients, same run, reported as ratios. Not a test: run it by hand and commit BENCHMARKS.md.

    bench/run.py [--quick] [--runs N] [--out BENCHMARKS.md]

Kafka's own ProducerPerformance and ConsumerPerformance (kafka-tools, Maven Central) and the
rdkafka bench binary (bench/src/main.rs: produce, consume, producer-to-consumer latency) drive
both brokers; `oha` drives the orders pipeline. Each figure is the median of the runs, with
the spread (min-max) beside it.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAFKA_SH = os.path.join(ROOT, "fixtures", "kafka", "kafka.sh")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "release", "kafka-orders")
BENCH = os.path.join(TARGET, "release", "kafka-bench")
RDKAFKA_VERSION = "2.12.1"
E2E_RATE = 1000
KAFKA = "127.0.0.1:19092"
EMBEDDED_PORT = 39092
EMBEDDED = f"127.0.0.1:{EMBEDDED_PORT}"
ORDER = {"userId": "bench", "products": [{"id": "p1", "name": "Product 1", "price": 19.99, "quantity": 2}], "totalAmount": 39.98}


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw).stdout


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakRss(threading.Thread):
    """Samples a process's resident memory every 50 ms; `peak` is the largest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def first_produce(bootstrap, deadline_s=120):
    """Tries a one-message produce with kcat until it succeeds."""
    while True:
        r = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "ready-check", "-X", "message.timeout.ms=1000"],
                           input="x\n", capture_output=True, text=True)
        if r.returncode == 0 and "ERROR" not in r.stderr:
            return
        if time.time() > deadline_s:
            raise RuntimeError(f"no produce to {bootstrap}: {r.stderr[-300:]}")
        time.sleep(0.005)


def start_embedded():
    t0 = time.time()
    proc = subprocess.Popen([BIN, "broker", "--listen", EMBEDDED, "--partitions", "1"], cwd=ROOT,
                            env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_produce(EMBEDDED, time.time() + 30)
    return proc, (time.time() - t0) * 1000


def start_kafka():
    subprocess.run([KAFKA_SH, "stop"], capture_output=True)
    t0 = time.time()
    sh(KAFKA_SH, "start")
    first_produce(KAFKA, time.time() + 120)
    pid = int(open(os.path.join(ROOT, ".cache/kafka/run/pid")).read())
    return pid, (time.time() - t0) * 1000


def producer_perf(bootstrap, topic, records, size, acks):
    out = sh(KAFKA_SH, "run", "org.apache.kafka.tools.ProducerPerformance", "--topic", topic, "--num-records", str(records),
             "--record-size", str(size), "--throughput", "-1", "--producer-props", f"bootstrap.servers={bootstrap}", f"acks={acks}",
             "linger.ms=5", "batch.size=65536")
    line = [l for l in out.splitlines() if "50th" in l][-1]
    n = [float(x) for x in re.findall(r"([\d.]+) (?:records/sec|MB/sec|ms 50th|ms 95th|ms 99th|ms 99.9th)", line)]
    return {"rec_s": n[0], "mb_s": n[1], "p50": n[2], "p99": n[4], "p999": n[5]}


def consumer_perf(bootstrap, topic, records):
    out = sh(KAFKA_SH, "run", "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic", topic,
             "--messages", str(records), "--group", f"perf-{uuid.uuid4().hex[:8]}", "--timeout", "60000")
    fields = [l for l in out.splitlines() if l and l[0].isdigit()][-1].split(", ")
    return {"rec_s": float(fields[9]), "mb_s": float(fields[8])}


def rdkafka_bench(*args):
    """One run of the Rust bench binary (bench/src/main.rs): one JSON line."""
    return json.loads(sh(BENCH, *args).strip().splitlines()[-1])


def med(values):
    return statistics.median(values), min(values), max(values)


def fmt(values, digits=0):
    m, lo, hi = med(values)
    return f"{m:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"


def ratio(a, b):
    return f"{statistics.median(a) / statistics.median(b):.2f}×" if statistics.median(b) else "n/a"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_healthy(base, probe="healthz"):
    """Waits (20 s at most) until the service at `base` answers its probe (healthz, readyz)."""
    for _ in range(400):
        try:
            urllib.request.urlopen(f"{base}/{probe}", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{base} never became healthy")


def pipeline(bootstrap_args, seconds, rate):
    """Runs the three services, drives POST /orders at a fixed rate with oha, then measures
    POST → visible in GET /orders/:id one order at a time."""
    p, a = free_port(), free_port()
    env = {**os.environ, "RUST_LOG": "warn", "KAFKA_ORDERS_PRODUCER_LISTEN": f"127.0.0.1:{p}",
           "KAFKA_ORDERS_ORDERS_API_LISTEN": f"127.0.0.1:{a}", "KAFKA_ORDERS_ORDERS_API_URL": f"http://127.0.0.1:{a}",
           "KAFKA_ORDERS_TOPIC": f"bench-orders-{uuid.uuid4().hex[:8]}", "KAFKA_ORDERS_BROKER_LISTEN": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen([BIN] + bootstrap_args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://127.0.0.1:{p}")
        out = subprocess.run(["oha", "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-q", str(rate), "-c", "64",
                              "-m", "POST", "-H", "Content-Type: application/json", "-d", json.dumps(ORDER),
                              f"http://127.0.0.1:{p}/orders"], check=True, capture_output=True, text=True).stdout
        result = json.loads(out)
        ok = result["statusCodeDistribution"].get("202", 0)
        accepted = ok / result["summary"]["total"]
        p99 = result["latencyPercentiles"]["p99"] * 1000
        # The pipeline keeps up only if the consumer stores what the producer accepted: wait
        # (at most 120 s) until the Orders API holds every accepted order.
        t_load_end = time.time()
        while time.time() - t_load_end < 120:
            stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{a}/orders/stats", timeout=5))
            if stats["totalOrders"] >= ok:
                break
            time.sleep(0.1)
        stored = stats["totalOrders"] / (result["summary"]["total"] + time.time() - t_load_end)
        e2e = []
        for _ in range(200):
            req = urllib.request.Request(f"http://127.0.0.1:{p}/orders", json.dumps(ORDER).encode(), {"Content-Type": "application/json"})
            t0 = time.time()
            order_id = json.load(urllib.request.urlopen(req, timeout=10))["id"]
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{a}/orders/{order_id}", timeout=5)
                    break
                except urllib.error.HTTPError:
                    time.sleep(0.0005)
            e2e.append((time.time() - t0) * 1000)
        e2e.sort()
        return {"orders_s": stored, "accepted_s": accepted, "post_p99": p99,
                "non_202": sum(v for k, v in result["statusCodeDistribution"].items() if k != "202"),
                "e2e_p50": e2e[len(e2e) // 2], "e2e_p99": e2e[int(len(e2e) * 0.99) - 1]}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="50k records per run, 5 s latency and pipeline runs (about 4 minutes)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = ap.parse_args()
    records = 50_000 if args.quick else 1_000_000
    seconds = 5 if args.quick else 30
    if not shutil.which("oha"):
        sh("cargo", "install", "oha", "--locked")
    sh("cargo", "build", "--release", "--workspace", "--bins")
    machine = f"{os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {sh('uname', '-sr').strip()}"

    kafka_pid, kafka_ready = start_kafka()
    embedded, embedded_ready = start_embedded()
    time.sleep(2)
    idle = {"embedded": rss_mb(embedded.pid), "kafka": rss_mb(kafka_pid)}
    pids = {"embedded": embedded.pid, "kafka": kafka_pid}
    boot = {"embedded": EMBEDDED, "kafka": KAFKA}
    results = {}
    peaks = {b: PeakRss(pid) for b, pid in pids.items()}
    for t in peaks.values():
        t.start()
    cpu = {b: 0.0 for b in pids}
    produced = {b: 0 for b in pids}
    consume_topic = {}
    for size, acks in ((100, "all"), (100, "1"), (1024, "all")):
        for run in range(args.runs):
            for b in ("embedded", "kafka"):
                topic = f"perf-{size}-{acks}-{run}-{uuid.uuid4().hex[:6]}"
                c0 = cpu_seconds(pids[b])
                r = producer_perf(boot[b], topic, records, size, acks)
                cpu[b] += cpu_seconds(pids[b]) - c0
                produced[b] += records
                results.setdefault((size, acks, b), []).append(r)
                if size == 100 and acks == "all":
                    consume_topic.setdefault(b, []).append(topic)
                print(f"produce {size}B acks={acks} {b} run {run}: {r}", file=sys.stderr)
                topic = f"rdk-{size}-{acks}-{run}-{uuid.uuid4().hex[:6]}"
                c0 = cpu_seconds(pids[b])
                r = rdkafka_bench("--brokers", boot[b], "--topic", topic, "produce", "--records", str(records), "--size", str(size), "--acks", acks)
                cpu[b] += cpu_seconds(pids[b]) - c0
                produced[b] += records
                results.setdefault(("rdkafka", size, acks, b), []).append(r)
                if size == 100 and acks == "all":
                    consume_topic.setdefault(("rdkafka", b), []).append(topic)
                print(f"rdkafka produce {size}B acks={acks} {b} run {run}: {r}", file=sys.stderr)
    for b in ("embedded", "kafka"):
        for topic in consume_topic[b]:
            r = consumer_perf(boot[b], topic, records)
            results.setdefault(("consume", b), []).append(r)
            print(f"consume {b}: {r}", file=sys.stderr)
        for topic in consume_topic[("rdkafka", b)]:
            r = rdkafka_bench("--brokers", boot[b], "--topic", topic, "consume", "--records", str(records))
            results.setdefault(("rdkafka-consume", b), []).append(r)
            print(f"rdkafka consume {b}: {r}", file=sys.stderr)
    for run in range(args.runs):
        for b in ("embedded", "kafka"):
            r = rdkafka_bench("--brokers", boot[b], "--topic", f"e2e-{run}-{uuid.uuid4().hex[:6]}", "latency",
                              "--rate", str(E2E_RATE), "--seconds", str(seconds))
            results.setdefault(("e2e", b), []).append(r)
            print(f"end to end {b} run {run}: {r}", file=sys.stderr)
    for t in peaks.values():
        t.stop.set()
    embedded.terminate()
    embedded.wait()

    pipe = {}
    for name, cli in (("embedded", ["--embedded"]), ("kafka", ["--brokers", KAFKA])):
        for run in range(args.runs):
            r = pipeline(cli, seconds, 20000)
            pipe.setdefault(name, []).append(r)
            print(f"pipeline {name} run {run}: {r}", file=sys.stderr)
    sh(KAFKA_SH, "stop")
    write(args, machine, records, seconds, results, idle, {b: t.peak for b, t in peaks.items()},
          {b: cpu[b] / produced[b] * 1e6 for b in cpu}, {"embedded": embedded_ready, "kafka": kafka_ready}, pipe)


def produce_table(title, col, prefix):
    """Rows for one producer client, each record size and acks, both brokers and their ratio."""
    lines = ["", f"## Produce: {title}, linger.ms=5, batch.size=64 KiB", "",
             "| records | acks | broker | records/s | MB/s | p50 ms | p99 ms | p99.9 ms |", "|---|---|---|---|---|---|---|---|"]
    for size, acks in ((100, "all"), (100, "1"), (1024, "all")):
        for b in ("embedded", "kafka"):
            k = prefix + (size, acks, b)
            lines.append(f"| {size} B | {acks} | {b} | {fmt(col(k, 'rec_s'))} | {fmt(col(k, 'mb_s'), 1)} | {fmt(col(k, 'p50'), 1)} | "
                         f"{fmt(col(k, 'p99'), 1)} | {fmt(col(k, 'p999'), 1)} |")
        e, k = prefix + (size, acks, "embedded"), prefix + (size, acks, "kafka")
        lines.append(f"| | | **ratio** | **{ratio(col(e, 'rec_s'), col(k, 'rec_s'))}** | | {ratio(col(e, 'p50'), col(k, 'p50'))} | "
                     f"**{ratio(col(e, 'p99'), col(k, 'p99'))}** | {ratio(col(e, 'p999'), col(k, 'p999'))} |")
    return lines


def write(args, machine, records, seconds, results, idle, peak, cpu_per_m, ready, pipe):
    col = lambda key, field: [r[field] for r in results[key]]
    lines = [
        "# Benchmarks: the embedded broker beside Apache Kafka 4.1.1",
        "",
        f"Machine: {machine}. Command: `bench/run.py{' --quick' if args.quick else ''} --runs {args.runs}` "
        f"({time.strftime('%Y-%m-%d')}). Both brokers ran at the same time on 127.0.0.1, one partition per topic, in "
        "memory for the embedded broker and on local disk (page cache, no fsync) for Kafka. Every figure is the median of "
        f"{args.runs} runs with the spread (min–max) in brackets; **ratio** is embedded ÷ Kafka (higher is better for "
        "throughput, lower for latency, memory and time). The machine is shared and noisy: compare ratios, not absolutes.",
        "",
    ]
    lines += produce_table(f"Kafka's ProducerPerformance (Java), {records:,} records per run", col, ())
    lines += produce_table(f"rdkafka (`kafka-bench produce`, librdkafka {RDKAFKA_VERSION}), {records:,} records per run", col, ("rdkafka",))
    ce, ck = results[("consume", "embedded")], results[("consume", "kafka")]
    re_, rk = results[("rdkafka-consume", "embedded")], results[("rdkafka-consume", "kafka")]
    ee, ek = results[("e2e", "embedded")], results[("e2e", "kafka")]
    lines += [
        "",
        f"## Consume: Kafka's ConsumerPerformance, {records:,} records of 100 B (fetch rate, group join excluded)",
        "",
        "| broker | records/s | MB/s |",
        "|---|---|---|",
        f"| embedded | {fmt([r['rec_s'] for r in ce])} | {fmt([r['mb_s'] for r in ce], 1)} |",
        f"| kafka | {fmt([r['rec_s'] for r in ck])} | {fmt([r['mb_s'] for r in ck], 1)} |",
        f"| **ratio** | **{ratio([r['rec_s'] for r in ce], [r['rec_s'] for r in ck])}** | |",
        "",
        f"## Consume: rdkafka (`kafka-bench consume`), the {records:,} records of 100 B it produced, from the first record on",
        "",
        "| broker | records/s | MB/s |",
        "|---|---|---|",
        f"| embedded | {fmt([r['rec_s'] for r in re_])} | {fmt([r['mb_s'] for r in re_], 1)} |",
        f"| kafka | {fmt([r['rec_s'] for r in rk])} | {fmt([r['mb_s'] for r in rk], 1)} |",
        f"| **ratio** | **{ratio([r['rec_s'] for r in re_], [r['rec_s'] for r in rk])}** | |",
        "",
        f"## End to end: producer to consumer at {E2E_RATE:,} records/s for {seconds} s (`kafka-bench latency`, 100 B, acks=all, linger.ms=0)",
        "",
        "| broker | p50 ms | p99 ms | p99.9 ms |",
        "|---|---|---|---|",
        f"| embedded | {fmt([r['p50'] for r in ee], 2)} | {fmt([r['p99'] for r in ee], 2)} | {fmt([r['p999'] for r in ee], 2)} |",
        f"| kafka | {fmt([r['p50'] for r in ek], 2)} | {fmt([r['p99'] for r in ek], 2)} | {fmt([r['p999'] for r in ek], 2)} |",
        f"| **ratio** | {ratio([r['p50'] for r in ee], [r['p50'] for r in ek])} | **{ratio([r['p99'] for r in ee], [r['p99'] for r in ek])}** | "
        f"{ratio([r['p999'] for r in ee], [r['p999'] for r in ek])} |",
        "",
        "## Footprint",
        "",
        "| | embedded | kafka | ratio |",
        "|---|---|---|---|",
        f"| start to first successful produce (ms) | {ready['embedded']:,.0f} | {ready['kafka']:,.0f} | {ready['embedded'] / ready['kafka']:.3f}× |",
        f"| resident memory idle (MB) | {idle['embedded']:.1f} | {idle['kafka']:.0f} | {idle['embedded'] / idle['kafka']:.3f}× |",
        f"| resident memory peak under the produce load (MB) | {peak['embedded']:.0f} | {peak['kafka']:.0f} | {peak['embedded'] / peak['kafka']:.2f}× |",
        f"| broker CPU seconds per million records produced | {cpu_per_m['embedded']:.2f} | {cpu_per_m['kafka']:.2f} | {cpu_per_m['embedded'] / cpu_per_m['kafka']:.2f}× |",
        "",
        "Kafka's start includes formatting its KRaft storage (`fixtures/kafka/kafka.sh start`); the embedded broker is the "
        "release binary `kafka-orders broker`. The embedded broker keeps every record in memory, so its peak grows with the data.",
        "",
        f"## The orders pipeline: `POST /orders` at 20,000/s offered for {seconds} s (oha, 64 connections), then end to end",
        "",
        "| Kafka | orders/s sustained (stored) | POST /orders accepted per s | non-202 answers | p99 POST ms | end-to-end p50 ms | end-to-end p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for b, label in (("embedded", "embedded (`--embedded`)"), ("kafka", "Apache Kafka (`--brokers`)")):
        rs = pipe[b]
        lines.append(f"| {label} | {fmt([r['orders_s'] for r in rs])} | {fmt([r['accepted_s'] for r in rs])} | {fmt([r['non_202'] for r in rs])} | {fmt([r['post_p99'] for r in rs], 1)} | "
                     f"{fmt([r['e2e_p50'] for r in rs], 1)} | {fmt([r['e2e_p99'] for r in rs], 1)} |")
    m = lambda xs: statistics.median(xs)
    e100, k100 = (100, "all", "embedded"), (100, "all", "kafka")
    checks = [
        ("produce throughput, 100 B, acks=all", ">= 1.0× Kafka (moonshot 2×)", f"{m(col(e100, 'rec_s')) / m(col(k100, 'rec_s')):.2f}×",
         m(col(e100, 'rec_s')) >= m(col(k100, 'rec_s'))),
        ("p99 produce latency, 100 B, acks=all", "<= 0.5× Kafka", f"{m(col(e100, 'p99')) / m(col(k100, 'p99')):.2f}×",
         m(col(e100, 'p99')) <= 0.5 * m(col(k100, 'p99'))),
        ("consume throughput", ">= 1.0× Kafka", f"{m([r['rec_s'] for r in ce]) / m([r['rec_s'] for r in ck]):.2f}×",
         m([r['rec_s'] for r in ce]) >= m([r['rec_s'] for r in ck])),
        ("ready (start to first produce)", "< 100 ms", f"{ready['embedded']:.0f} ms", ready["embedded"] < 100),
        ("idle resident memory", "< 30 MB", f"{idle['embedded']:.1f} MB", idle["embedded"] < 30),
        ("orders pipeline, sustained", ">= 20,000 orders/s", f"{m([r['orders_s'] for r in pipe['embedded']]):,.0f} orders/s",
         m([r['orders_s'] for r in pipe["embedded"]]) >= 20000),
        ("orders pipeline, p99 POST", "< 10 ms", f"{m([r['post_p99'] for r in pipe['embedded']]):.1f} ms",
         m([r['post_p99'] for r in pipe["embedded"]]) < 10),
    ]
    lines += ["", "## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {want} | {got} | {'yes' if ok else '**no**'} |" for name, want, got, ok in checks]
    lines += [
        "",
        "Sustained: the orders the Orders API holds, divided by the time from the start of the load until it holds every "
        "accepted order (the pipeline keeps up, or this number shows by how much it does not). "
        "End to end: one order at a time, from sending `POST /orders` to the first `200` from `GET /orders/:id` on the Orders "
        "API (polling every 0.5 ms), 200 orders per run.",
        "",
    ]
    changes = os.path.join(ROOT, "bench", "changes.md")
    if os.path.exists(changes):
        lines += ["", open(changes).read().rstrip()]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
