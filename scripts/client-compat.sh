#!/usr/bin/env bash
# Runs the client compatibility scenario (tests/clients/README.md) with every real client, and
# Apache Kafka's own command-line tools (tests/kafka-tools/tools.sh), against the embedded
# broker and, if given, a real Kafka: scripts/client-compat.sh [HOST:PORT]
set -uo pipefail
cd "$(dirname "$0")/.."
real_kafka=${1:-}
port=${EMBEDDED_PORT:-29092}
bin=${CARGO_TARGET_DIR:-target}/debug/kafka-orders
[ -x "$bin" ] || cargo build -q --bin kafka-orders
log=$(mktemp)
RUST_LOG=warn "$bin" broker --listen "127.0.0.1:$port" --partitions 3 >"$log" 2>&1 &
broker_pid=$!
trap 'kill $broker_pid 2>/dev/null; wait $broker_pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

export KAFKAJS_NO_PARTITIONER_WARNING=1
java_libs="$PWD/.cache/kafka/libs/*"
clients=(
  "kcat $(kcat -V 2>/dev/null | grep -o 'Version [0-9.]*' | cut -d' ' -f2)|tests/clients/kcat/compat.sh"
  "confluent-kafka-python $(python3 -c 'import confluent_kafka as c; print(c.__version__)' 2>/dev/null)|python3 tests/clients/python/confluent_compat.py"
  "kafka-python $(python3 -c 'import kafka; print(kafka.__version__)' 2>/dev/null)|python3 tests/clients/python/kafka_python_compat.py"
  "kafkajs 2.2.4|node tests/clients/node/kafkajs_compat.mjs"
  "franz-go v1.22.3|bash -c 'cd tests/clients/go && go run .'"
  "java kafka-clients 4.1.1|java -Dlog4j2.configurationFile=fixtures/kafka/log4j2.xml -Dkafka.logs.dir=${TMPDIR:-/tmp} -cp '$java_libs' tests/clients/java/Compat.java"
  "java 4.1.1 protocol=consumer|java -Dlog4j2.configurationFile=fixtures/kafka/log4j2.xml -Dkafka.logs.dir=${TMPDIR:-/tmp} -cp '$java_libs' tests/clients/java/ConsumerProtocol.java"
  "librdkafka protocol=consumer|python3 tests/clients/python/consumer_protocol.py"
  "librdkafka + java protocol=consumer|python3 tests/clients/python/consumer_protocol.py --with-java"
  "kafka's own tools 4.1.1|tests/kafka-tools/tools.sh \$BOOTSTRAP && echo PASS"
  # Transactions and exactly-once (tests/clients/README.md, "Transactions").
  "java kafka-clients 4.1.1 txn|java -Dlog4j2.configurationFile=fixtures/kafka/log4j2.xml -Dkafka.logs.dir=${TMPDIR:-/tmp} -cp '$java_libs' tests/clients/java/Transactions.java"
  "confluent-kafka-python $(python3 -c 'import confluent_kafka as c; print(c.__version__)' 2>/dev/null) txn|python3 tests/clients/python/confluent_transactions.py"
  "franz-go v1.22.3 txn|bash -c 'cd tests/clients/go && go run ./txn'"
  "kafka-streams 4.1.1 exactly-once|tests/clients/streams/wordcount.sh"
)
brokers=("embedded|127.0.0.1:$port")
[ -n "$real_kafka" ] && brokers+=("apache-kafka|$real_kafka")

passed=0 failed=0
printf '%-36s %-14s %s\n' client broker result
for broker in "${brokers[@]}"; do
  for client in "${clients[@]}"; do
    name=${client%%|*} cmd=${client#*|}
    out=$(BOOTSTRAP=${broker#*|} timeout 180 bash -c "$cmd" 2>&1)
    if [ $? -eq 0 ] && grep -q '^PASS' <<<"$out"; then
      passed=$((passed + 1)); result=PASS
    else
      failed=$((failed + 1)); result="FAIL: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    fi
    printf '%-36s %-14s %s\n' "$name" "${broker%%|*}" "$result"
  done
done
# Case-sensitive: the scenarios that SIGKILL a client leave "Connection reset by peer (os error
# 104)" warnings, which are no broker error.
if grep -qE 'panic|ERROR' "$log"; then echo "embedded broker log:"; cat "$log"; fi
echo "client-compat: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
