#!/usr/bin/env python3
"""Retention keeps the built-in broker's memory bounded under a long load, at no cost in
produce throughput. Not a test: run it by hand (after `cargo build --release`) and commit the
section it writes into BENCHMARKS.md.

    bench/retention.py [--records 5000000] [--out BENCHMARKS.md]

Kafka's ProducerPerformance writes RECORDS records of 100 B (acks=1) into a topic with
`retention.bytes` = 100 MB, then, on a fresh broker, into a topic without retention; the
broker's resident memory is sampled every 50 ms. Apache Kafka (fixtures/kafka/kafka.sh) runs
the retained case too, for the ratio.
"""
import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import (EMBEDDED, KAFKA, KAFKA_SH, ROOT, PeakRss, producer_perf, sh,  # noqa: E402
                 start_embedded, start_kafka)

RETENTION_BYTES = 100_000_000
SECTION = "## Retention and memory"


def create(bootstrap, topic, retained):
    configs = ["--config", f"retention.bytes={RETENTION_BYTES}"] if retained else []
    sh(KAFKA_SH, "run", "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap, "--create",
       "--topic", topic, "--partitions", "1", "--replication-factor", "1", *configs)


def run_embedded(topic, retained, records):
    proc, _ = start_embedded()
    try:
        create(EMBEDDED, topic, retained)
        peak = PeakRss(proc.pid)
        peak.start()
        result = producer_perf(EMBEDDED, topic, records, 100, 1)
        time.sleep(2)  # one more retention pass (every second) after the last record
        peak.stop.set()
        peak.join()
        return result, peak.peak
    finally:
        proc.terminate()
        proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    args = parser.parse_args()
    machine = f"{os.cpu_count()} cores, {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB"

    retained, retained_peak = run_embedded("retained", True, args.records)
    unbounded, unbounded_peak = run_embedded("unbounded", False, args.records)
    kafka_pid, _ = start_kafka()
    topic = f"retained-{int(time.time())}"
    create(KAFKA, topic, True)
    kafka_peak = PeakRss(kafka_pid)
    kafka_peak.start()
    kafka = producer_perf(KAFKA, topic, args.records, 100, 1)
    kafka_peak.stop.set()
    kafka_peak.join()

    lines = [
        SECTION,
        "",
        f"`bench/retention.py --records {args.records}` on {machine} ({time.strftime('%Y-%m-%d')}): "
        f"Kafka's ProducerPerformance, {args.records:,} records of 100 B, acks=1, one partition; "
        f"`retention.bytes` = {RETENTION_BYTES:,} on the retained topic. Peak resident memory of the "
        "broker process, sampled every 50 ms.",
        "",
        "| broker, topic | records/s | MB/s | p99 ms | peak RSS |",
        "|---|---|---|---|---|",
        f"| built-in, retention.bytes 100 MB | {retained['rec_s']:,.0f} | {retained['mb_s']:.1f} | {retained['p99']:.0f} | {retained_peak:.0f} MB |",
        f"| built-in, no retention | {unbounded['rec_s']:,.0f} | {unbounded['mb_s']:.1f} | {unbounded['p99']:.0f} | {unbounded_peak:.0f} MB |",
        f"| Apache Kafka, retention.bytes 100 MB | {kafka['rec_s']:,.0f} | {kafka['mb_s']:.1f} | {kafka['p99']:.0f} | {kafka_peak.peak:.0f} MB (JVM heap 1 GiB) |",
        "",
        f"Throughput with retention / without: {retained['rec_s'] / unbounded['rec_s']:.2f}; "
        f"built-in / Apache Kafka, both retained: {retained['rec_s'] / kafka['rec_s']:.2f}.",
        "",
    ]
    text = open(args.out).read() if os.path.exists(args.out) else ""
    section = "\n".join(lines)
    if SECTION in text:
        text = re.sub(rf"{re.escape(SECTION)}\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(args.out, "w").write(text)
    print(section)


if __name__ == "__main__":
    main()
