#!/usr/bin/env python3
"""What the console tests check in Kafka itself, with a client the console does not use
(confluent-kafka): committed offsets, messages as stored, and setting up a group or a message
the console cannot make. The broker is in BOOTSTRAP; KAFKA_PROPERTIES (librdkafka key=value
lines, the secured cluster's) are added when set. Prints JSON.

  kafka_tool.py commit GROUP TOPIC PARTITION:OFFSET...   commit as a client outside the group
  kafka_tool.py committed GROUP TOPIC                    {"partition": offset or null}
  kafka_tool.py produce TOPIC KEY HEX-VALUE [NAME=VALUE...]  one message, value given in hex
  kafka_tool.py read TOPIC                               every message: key, value, headers
  kafka_tool.py configs TOPIC                            the topic's own configs {name: value}
"""
import json
import os
import sys

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource


def config(**extra):
    conf = {"bootstrap.servers": os.environ["BOOTSTRAP"]}
    path = os.environ.get("KAFKA_PROPERTIES")
    if path:
        for line in open(path, encoding="utf-8"):
            line = line.strip()
            if line and not line.startswith("#"):
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip()
    conf.update(extra)
    return conf


def partitions(consumer, topic):
    metadata = consumer.list_topics(topic, timeout=10)
    return sorted(metadata.topics[topic].partitions)


def commit(group, topic, *picks):
    consumer = Consumer(config(**{"group.id": group, "enable.auto.commit": False}))
    offsets = [TopicPartition(topic, int(p), int(o)) for p, o in (x.split(":") for x in picks)]
    consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()
    print(json.dumps({"committed": len(offsets)}))


def committed(group, topic):
    consumer = Consumer(config(**{"group.id": group, "enable.auto.commit": False}))
    found = consumer.committed([TopicPartition(topic, p) for p in partitions(consumer, topic)], timeout=10)
    consumer.close()
    print(json.dumps({str(tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in found}))


def produce(topic, key, hex_value, *headers):
    producer = Producer(config())
    failures = []
    producer.produce(topic, key=key.encode(), value=bytes.fromhex(hex_value),
                     headers=[tuple(h.split("=", 1)) for h in headers],
                     on_delivery=lambda err, msg: failures.append(err) if err else None)
    producer.flush(10)
    if failures:
        sys.exit(f"not delivered: {failures}")
    print(json.dumps({"produced": 1}))


def read(topic):
    consumer = Consumer(config(**{"group.id": "kafka-tool-reader", "enable.auto.commit": False}))
    out = []
    for p in partitions(consumer, topic):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high <= low:
            continue
        consumer.assign([TopicPartition(topic, p, low)])
        while True:
            m = consumer.poll(10)
            if m is None:
                sys.exit(f"{topic}/{p}: nothing read at offset {low}")
            if m.error():
                sys.exit(str(m.error()))
            out.append({
                "partition": m.partition(), "offset": m.offset(),
                "key": m.key().decode(errors="replace") if m.key() is not None else None,
                "value": m.value().hex() if m.value() is not None else None,
                "headers": [[k, v.decode(errors="replace") if v is not None else None] for k, v in (m.headers() or [])],
            })
            if m.offset() + 1 >= high:
                break
    consumer.close()
    print(json.dumps(out))


def configs(topic):
    admin = AdminClient(config())
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    described = admin.describe_configs([resource])[resource].result(timeout=30)
    own = ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    print(json.dumps({name: entry.value for name, entry in described.items() if entry.source == own}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"commit": commit, "committed": committed, "produce": produce, "read": read, "configs": configs}[command](*args)
