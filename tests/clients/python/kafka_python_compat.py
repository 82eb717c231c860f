"""The compatibility scenario (see ../README.md) with kafka-python (pure Python)."""
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.structs import OffsetAndMetadata

from scenario import BOOTSTRAP, check, done, fail, names

CLIENT = "kafka-python"
TOPIC, GROUP = names("kafkapython")


def consume(count, seen):
    consumer = KafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, group_id=GROUP, auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=30000)
    got, positions = 0, {}
    while got < count:
        batch = consumer.poll(timeout_ms=30000, max_records=count - got)
        if not batch:
            fail(CLIENT, f"timed out after {got} of {count} messages")
        for tp, records in batch.items():
            for msg in records:
                headers = dict((k, v.decode()) for k, v in msg.headers)
                check(CLIENT, msg.key.decode(), msg.value.decode(), headers, seen)
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
done(CLIENT, seen)
