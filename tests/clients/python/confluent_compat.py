"""The compatibility scenario (see ../README.md) with confluent-kafka-python (librdkafka)."""
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from scenario import BOOTSTRAP, check, done, fail, names

CLIENT = "confluent-kafka"
TOPIC, GROUP = names("confluent")


def consume(count, seen):
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": GROUP, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    got, positions = 0, {}
    while got < count:
        msg = consumer.poll(30)
        if msg is None:
            fail(CLIENT, f"timed out after {got} of {count} messages")
        if msg.error():
            fail(CLIENT, f"consumer error {msg.error()}")
        headers = dict((k, v.decode()) for k, v in (msg.headers() or []))
        check(CLIENT, msg.key().decode(), msg.value().decode(), headers, seen)
        got += 1
        positions[msg.partition()] = msg.offset() + 1
    consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in positions.items()], asynchronous=False)
    consumer.close()


admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
admin.create_topics([NewTopic(TOPIC, num_partitions=3, replication_factor=1)])[TOPIC].result(30)
producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
for i in range(1000):
    producer.produce(TOPIC, key=f"k{i}", value=f"v{i}", headers=[("n", str(i))])
if producer.flush(30) != 0:
    fail(CLIENT, "not every message was delivered")
seen = set()
consume(600, seen)
consume(400, seen)
done(CLIENT, seen)
