#!/usr/bin/env bash
# Profiles the embedded broker (release build) under a produce load and then a fetch load
# from the rdkafka bench client, and draws a flame graph of each with inferno:
#   bench/flamegraphs/produce.svg, bench/flamegraphs/fetch.svg
# Needs perf (linux-perf) and inferno (cargo install inferno). Not part of the tests.
#
# usage: bench/profile.sh [RECORDS]   (default 1,000,000 records of 100 B, acks=all)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
port=39192
out=bench/flamegraphs
mkdir -p "$out"
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked
cargo build --release --workspace --bins
target/release/kafka-orders broker --listen 127.0.0.1:$port --partitions 1 >/dev/null 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null' EXIT
sleep 0.5
bench() { target/release/kafka-bench --brokers 127.0.0.1:$port --topic profiled "$@"; }

profile() {  # profile NAME COMMAND...: perf samples the broker while COMMAND runs
  local name=$1; shift
  perf record -q -e cpu-clock -F 999 -g -p $broker -o /tmp/broker-$name.perf &
  local perf=$!
  sleep 0.2
  "$@"
  kill -INT $perf; wait $perf || true
  perf script -i /tmp/broker-$name.perf 2>/dev/null | inferno-collapse-perf > /tmp/broker-$name.folded
  inferno-flamegraph --title "embedded broker: $name" < /tmp/broker-$name.folded > "$out/$name.svg"
  echo "$name: $out/$name.svg; top frames (self time):"
  perf report -i /tmp/broker-$name.perf --no-children --sort symbol --stdio -g none 2>/dev/null | grep '%' | head -8
}

profile produce bench produce --records "$records" --size 100 --acks all
profile fetch bench consume --records "$records"
