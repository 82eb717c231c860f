#!/usr/bin/env bash
# Runs every test, on a fresh machine too: installs what the tests need, checks formatting and
# lints, starts a real Apache Kafka (from Maven Central jars) and PostgreSQL (Debian's), and
# runs the suite against the embedded broker and against that Kafka, then the real-client
# compatibility tests against both, and at last the suite and the console on a 3-broker
# SASL_SSL Apache Kafka cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

scripts/install-test-deps.sh

echo "== formatting and lints"
cargo fmt --all --check
(cd fuzz && cargo fmt --check)
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== build"
cargo build --workspace --all-targets --locked

echo "== start a real Apache Kafka and PostgreSQL"
fixtures/kafka/kafka.sh start
trap 'fixtures/kafka/kafka.sh stop; fixtures/kafka-cluster/cluster.sh stop; fixtures/postgres/postgres.sh stop' EXIT
real_kafka=127.0.0.1:${KAFKA_PORT:-19092}
fixtures/postgres/postgres.sh start
# The store suite and the scale-out tests make databases of their own on it, and restart it.
TEST_DATABASE_URL=$(fixtures/postgres/postgres.sh url)
TEST_DATABASE_CA=$(fixtures/postgres/postgres.sh ca)
export TEST_DATABASE_URL TEST_DATABASE_CA PG_CONTROL=fixtures/postgres/postgres.sh

# Bounded, so that a test stuck after a failure cannot hold the run for long.
echo "== tests on the embedded broker"
timeout 1200 cargo test --workspace
echo "== the same tests on Apache Kafka ($real_kafka)"
KAFKA_BROKERS=$real_kafka KAFKA_CONTROL=fixtures/kafka/kafka.sh timeout 1200 cargo test --test integration

echo "== the Orders API's tests again with its orders in PostgreSQL"
TEST_ORDERS_DATABASE_URL=$TEST_DATABASE_URL timeout 600 cargo test --test integration -- orders_flow orders_pages auth::

echo "== the console in headless Chromium, on the embedded broker and on Apache Kafka"
node --test --test-concurrency=1 tests/console/
KAFKA_BROKERS=$real_kafka node --test --test-concurrency=1 tests/console/

echo "== real Kafka clients against both brokers"
scripts/client-compat.sh "$real_kafka"

echo "== the HTTP APIs fuzzed from their OpenAPI descriptions (schemathesis)"
tests/api/schemathesis.sh

echo "== docker-compose.yml and Dockerfile against the code (no Docker engine here)"
python3 tests/compose/check.py "$real_kafka"

echo "== a 3-broker Apache Kafka cluster with SASL_SSL (SCRAM-SHA-512, TLS from its own CA)"
fixtures/kafka/kafka.sh stop
fixtures/kafka-cluster/cluster.sh start
cluster=(KAFKA_BROKERS="$(fixtures/kafka-cluster/cluster.sh bootstrap)"
  KAFKA_PROPERTIES=.cache/kafka-cluster/client.properties KAFKA_CONTROL=fixtures/kafka-cluster/cluster.sh)
echo "== the integration tests on the cluster, through SASL_SSL, with its fault tests"
env "${cluster[@]}" timeout 1200 cargo test --test integration -- --include-ignored
echo "== the console in headless Chromium, on the cluster"
env "${cluster[@]}" node --test --test-concurrency=1 tests/console/
echo "== docker-compose.cluster.yml against the code, on the cluster and PostgreSQL"
python3 tests/compose/check_cluster.py
fixtures/kafka-cluster/cluster.sh stop

echo "== fuzz the broker's request decoding and handling (bounded time)"
# cargo-fuzz needs a nightly toolchain (the machine image has one; it cannot be downloaded here).
# Without it the run fails: a skipped fuzz step would look like a passed one.
rustup run nightly rustc --version >/dev/null 2>&1 || { echo "test.sh: no nightly Rust toolchain for cargo-fuzz" >&2; exit 1; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
(cd fuzz && cargo +nightly fuzz run request -- -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12)
