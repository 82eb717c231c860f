#!/usr/bin/env bash
# The compatibility scenario (see ../README.md) with kcat (librdkafka's command-line client).
# kcat has no admin API and sets headers per run, not per message: the topic is auto-created
# and every message carries the header source=kcat.
set -euo pipefail
topic="compat-kcat-$RANDOM$RANDOM"
group="g-$topic"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL kcat: $*"; exit 1; }

for i in $(seq 0 999); do echo "k$i:v$i"; done > "$work/in"
kcat -b "$BOOTSTRAP" -P -t "$topic" -K: -H source=kcat -X enable.idempotence=true -l "$work/in" \
  || fail "produce"
consume() {
  timeout 60 kcat -b "$BOOTSTRAP" -G "$group" -X auto.offset.reset=earliest -c "$1" -f '%k %s %h\n' "$topic" \
    2>"$work/err.$1" || fail "consume $1: $(tail -3 "$work/err.$1")"
}
consume 600 > "$work/a"
consume 400 > "$work/b"
[ "$(wc -l < "$work/a")" -eq 600 ] || fail "first consumer got $(wc -l < "$work/a") messages"
[ "$(wc -l < "$work/b")" -eq 400 ] || fail "second consumer got $(wc -l < "$work/b") messages"
while read -r key value headers; do
  [ "$value" = "v${key#k}" ] && [ "$headers" = "source=kcat" ] || fail "message $key has value $value headers $headers"
done < <(cat "$work/a" "$work/b")
distinct=$(cat "$work/a" "$work/b" | cut -d' ' -f1 | sort -u | wc -l)
[ "$distinct" -eq 1000 ] || fail "$distinct distinct messages instead of 1000"
echo "PASS kcat"
