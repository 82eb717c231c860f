"""The compatibility scenario (see ../README.md) with confluent-kafka-python (librdkafka)."""
import os
import sys
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = os.environ["BOOTSTRAP"]
TOPIC = f"compat-confluent-{uuid.uuid4().hex[:8]}"
GROUP = f"g-{TOPIC}"


def fail(message):
    print(f"FAIL confluent-kafka: {message}")
    sys.exit(1)


def consume(count, seen):
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": GROUP, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    got, positions = [], {}
    while len(got) < count:
        msg = consumer.poll(30)
        if msg is None:
            fail(f"timed out after {len(got)} of {count} messages")
        if msg.error():
            fail(f"consumer error {msg.error()}")
        key, value = msg.key().decode(), msg.value().decode()
        headers = dict((k, v.decode()) for k, v in (msg.headers() or []))
        n = key[1:]
        if value != f"v{n}" or headers.get("n") != n:
            fail(f"message {key} has value {value} headers {headers}")
        if key in seen:
            fail(f"{key} delivered twice")
        seen.add(key)
        got.append(key)
        positions[msg.partition()] = msg.offset() + 1
    consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in positions.items()], asynchronous=False)
    consumer.close()


admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(30)
producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
for i in range(1000):
    producer.produce(TOPIC, key=f"k{i}", value=f"v{i}", headers=[("n", str(i))])
if producer.flush(30) != 0:
    fail("not every message was delivered")
seen = set()
consume(600, seen)
consume(400, seen)
if len(seen) != 1000:
    fail(f"{len(seen)} distinct messages instead of 1000")
print("PASS confluent-kafka")
