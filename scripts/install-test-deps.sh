#!/usr/bin/env bash
# Installs what the tests need beyond Rust: Debian packages (kcat, chromium, openssl, perl, make, util-linux, postgresql), Python clients and schemathesis,
# kafkajs and playwright-core, franz-go and compose-go, and the Maven-built Apache Kafka. Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# openssl makes the test cluster's certificates; perl and make build the OpenSSL compiled into
# librdkafka (rdkafka's ssl-vendored); util-linux has prlimit (the broker's disk-fault test);
# postgresql has the binaries (/usr/lib/postgresql/<version>/bin) for fixtures/postgres/postgres.sh;
# nginx runs deploy/nginx.conf, the cluster compose file's load balancer (tests/compose/check_cluster.py).
apt_packages=(kcat chromium openssl perl make util-linux postgresql nginx)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for tool in java mvn python3 node npm go cargo rustup; do
  command -v "$tool" >/dev/null || { echo "install-test-deps: $tool is required but missing" >&2; exit 1; }
done
rustup component add rustfmt clippy
python3 -m pip install -q -r tests/clients/python/requirements.txt -r tests/api/requirements.txt
(cd tests/clients/node && npm ci --silent --no-audit --no-fund)
(cd tests/console && npm ci --silent --no-audit --no-fund)
(cd tests/clients/go && go mod download)
(cd tests/compose && go mod download)
fixtures/kafka/kafka.sh assemble
