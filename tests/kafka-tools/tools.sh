#!/usr/bin/env bash
# Apache Kafka's own command-line tools, from the Maven jars (fixtures/kafka/kafka.sh run),
# against the broker at $1: the built-in one or Apache Kafka, same steps, same checks.
# A step fails the run when its tool exits non-zero, prints an error (several print one and
# still exit 0), or does not print what Kafka's tools print for it.
#
#   tests/kafka-tools/tools.sh 127.0.0.1:19092
set -euo pipefail
cd "$(dirname "$0")/../.."
bootstrap=${1:?usage: tools.sh HOST:PORT}
topic=tools-$(date +%s%N)
group=$topic-group

# step NAME EXPECTED-REGEX CLASS ARGS... (stdin passes through to the tool); its output is
# left in $last for checks of what must not be there.
step() {
  local name=$1 expect=$2 out
  shift 2
  # The bootstrap right after the tool's class: kafka-transactions wants it before its command.
  if ! out=$(fixtures/kafka/kafka.sh run "$1" --bootstrap-server "$bootstrap" "${@:2}" 2>&1); then
    printf 'FAIL %s: exit code\n%s\n' "$name" "$out"
    exit 1
  fi
  if grep -qiE 'error|exception|does not support|failed' <<<"$out"; then
    printf 'FAIL %s: an error was printed\n%s\n' "$name" "$out"
    exit 1
  fi
  if ! grep -qE "$expect" <<<"$out"; then
    printf 'FAIL %s: expected /%s/ in\n%s\n' "$name" "$expect" "$out"
    exit 1
  fi
  echo "ok   $name"
  last=$out
}

topics=org.apache.kafka.tools.TopicCommand
groups=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand

echo "== Kafka's tools against $bootstrap (topic $topic)"
step "kafka-topics --create" "Created topic $topic" \
  $topics --create --topic "$topic" --partitions 1 --replication-factor 1
step "kafka-topics --describe" "PartitionCount: 1" $topics --describe --topic "$topic"
seq 1 10 | step "kafka-console-producer" "" \
  org.apache.kafka.tools.ConsoleProducer --topic "$topic"
step "kafka-console-consumer --group" "Processed a total of 10 messages" \
  org.apache.kafka.tools.consumer.ConsoleConsumer --topic "$topic" --group "$group" \
  --from-beginning --max-messages 10
step "kafka-consumer-groups --describe (lag)" "$group +$topic +0 +10 +10 +0" \
  $groups --describe --group "$group"
step "kafka-consumer-groups --reset-offsets --to-earliest" "$group +$topic +0 +0" \
  $groups --reset-offsets --to-earliest --execute --group "$group" --topic "$topic"
step "kafka-consumer-groups --reset-offsets --to-datetime" "$group +$topic +0 +0" \
  $groups --reset-offsets --to-datetime 2020-01-01T00:00:00.000 --execute --group "$group" --topic "$topic"
step "kafka-consumer-groups --reset-offsets --to-latest" "$group +$topic +0 +10" \
  $groups --reset-offsets --to-latest --execute --group "$group" --topic "$topic"
step "kafka-get-offsets" "$topic:0:10" org.apache.kafka.tools.GetOffsetShell --topic "$topic"
# KIP-848: a group.protocol=consumer group beside the classic one, on the same topic.
step "kafka-console-consumer --group (group.protocol=consumer)" "Processed a total of 10 messages" \
  org.apache.kafka.tools.consumer.ConsoleConsumer --topic "$topic" --group "$group-kip848" \
  --from-beginning --max-messages 10 --consumer-property group.protocol=consumer
step "kafka-consumer-groups --describe (consumer group)" "$group-kip848 +$topic +0 +10 +10 +0" \
  $groups --describe --group "$group-kip848"
step "kafka-consumer-groups --describe --state (consumer group)" "$group-kip848 .* uniform +Empty +0" \
  $groups --describe --state --group "$group-kip848"
step "kafka-consumer-groups --list --type" "$group-kip848 +Consumer" $groups --list --type
if ! grep -qE "^$group +Classic" <<<"$last"; then
  printf 'FAIL the classic group %s is not listed as Classic\n%s\n' "$group" "$last"
  exit 1
fi
step "kafka-consumer-groups --delete (consumer group)" \
  "Deletion of requested consumer groups \('$group-kip848'\) was successful" \
  $groups --delete --group "$group-kip848"
offsets=$(mktemp)
trap 'rm -f "$offsets"' EXIT
printf '{"partitions":[{"topic":"%s","partition":0,"offset":4}],"version":1}' "$topic" > "$offsets"
step "kafka-delete-records" "partition: $topic-0[[:space:]]+low_watermark: 4" \
  org.apache.kafka.tools.DeleteRecordsCommand --offset-json-file "$offsets"
step "kafka-get-offsets --time earliest" "$topic:0:4" \
  org.apache.kafka.tools.GetOffsetShell --topic "$topic" --time earliest
step "kafka-configs --describe" "Dynamic configs for topic $topic" \
  kafka.admin.ConfigCommand --describe --entity-type topics --entity-name "$topic"
step "kafka-configs --alter --add-config" "Completed updating config for topic $topic" \
  kafka.admin.ConfigCommand --alter --entity-type topics --entity-name "$topic" \
  --add-config retention.ms=86400000,retention.bytes=100000000
step "kafka-configs --describe (altered)" "retention.ms=86400000" \
  kafka.admin.ConfigCommand --describe --entity-type topics --entity-name "$topic"
step "kafka-configs --alter --delete-config" "Completed updating config for topic $topic" \
  kafka.admin.ConfigCommand --alter --entity-type topics --entity-name "$topic" --delete-config retention.ms
step "kafka-configs --describe (deleted)" "retention.bytes=100000000" \
  kafka.admin.ConfigCommand --describe --entity-type topics --entity-name "$topic"
if grep -q "retention.ms=86400000" <<<"$last"; then
  echo "FAIL retention.ms is still set after --delete-config"
  exit 1
fi
step "kafka-topics --alter --partitions 3" "" $topics --alter --topic "$topic" --partitions 3
step "kafka-topics --describe (grown)" "PartitionCount: 3" $topics --describe --topic "$topic"
step "kafka-consumer-groups --delete" "Deletion of requested consumer groups \('$group'\) was successful" \
  $groups --delete --group "$group"
step "kafka-consumer-groups --list (deleted)" "" $groups --list
if grep -qx "$group" <<<"$last"; then
  echo "FAIL the deleted group $group is still listed"
  exit 1
fi
step "kafka-transactions list" "TransactionalId" org.apache.kafka.tools.TransactionsCommand list
echo "== every step as Kafka's tools expect"
