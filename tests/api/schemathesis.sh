#!/usr/bin/env bash
# Property-based tests of the HTTP services from their own OpenAPI descriptions: schemathesis
# generates valid and invalid requests for every operation and checks that no answer is a 5xx,
# that every status, header, content type (problem+json for errors) and body is the one the
# document promises, and that requests the schema forbids are refused.
#
# positive_data_acceptance is left out on purpose: an order's totalAmount must equal the sum
# of price × quantity, a rule JSON Schema cannot state, so most schema-valid random orders are
# rightly refused with 422.
#
# usage: tests/api/schemathesis.sh   (after cargo build; EXAMPLES=N sets examples per operation)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$PWD/target/debug/kafka-orders
data=$(mktemp -d)
export KAFKA_ORDERS_BROKER_LISTEN=127.0.0.1:19292 KAFKA_ORDERS_PRODUCER_LISTEN=127.0.0.1:13001 \
  KAFKA_ORDERS_CONSUMER_LISTEN=127.0.0.1:13002 KAFKA_ORDERS_ORDERS_API_LISTEN=127.0.0.1:13003 \
  KAFKA_ORDERS_CONSOLE_LISTEN=127.0.0.1:18080 KAFKA_ORDERS_ORDERS_API_URL=http://127.0.0.1:13003 RUST_LOG=warn
"$bin" --embedded --data-dir "$data" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for port in 13001 13002 13003; do
  for _ in $(seq 100); do "$bin" probe "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
done
failed=0
for port in 13001 13003 13002; do
  echo "== schemathesis: http://127.0.0.1:$port/openapi.json"
  schemathesis run "http://127.0.0.1:$port/openapi.json" --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${EXAMPLES:-100}" --request-timeout 15 --no-color 2>&1 | tail -n 80 || failed=1
done
exit $failed
