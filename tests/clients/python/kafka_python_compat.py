"""The compatibility scenario (see ../README.md) with kafka-python (pure Python)."""
import os
import sys
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

BOOTSTRAP = os.environ["BOOTSTRAP"]
TOPIC = f"compat-kafkapython-{uuid.uuid4().hex[:8]}"
GROUP = f"g-{TOPIC}"


def fail(message):
    print(f"FAIL kafka-python: {message}")
    sys.exit(1)


def consume(count, seen):
    consumer = KafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, group_id=GROUP, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=30000)
    got, positions = 0, {}
    while got < count:
        batch = consumer.poll(timeout_ms=30000, max_records=count - got)
        if not batch:
            fail(f"timed out after {got} of {count} messages")
        for tp, records in batch.items():
            for msg in records:
                key, value = msg.key.decode(), msg.value.decode()
                headers = dict((k, v.decode()) for k, v in msg.headers)
                n = key[1:]
                if value != f"v{n}" or headers.get("n") != n:
                    fail(f"message {key} has value {value} headers {headers}")
                if key in seen:
                    fail(f"{key} delivered twice")
                seen.add(key)
                got += 1
                positions[tp] = OffsetAndMetadata(msg.offset + 1, "", -1)
    consumer.commit(positions)
    consumer.close()


admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])
admin.close()
producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
futures = [producer.send(TOPIC, key=f"k{i}".encode(), value=f"v{i}".encode(), headers=[("n", str(i).encode())])
           for i in range(1000)]
for f in futures:
    f.get(timeout=30)
producer.close()
seen = set()
consume(600, seen)
consume(400, seen)
if len(seen) != 1000:
    fail(f"{len(seen)} distinct messages instead of 1000")
print("PASS kafka-python")
