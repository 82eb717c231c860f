"""Kafka transactions with confluent-kafka-python (librdkafka); see ../README.md, "Transactions".

1. A committed transaction of 30 records and an aborted one of 12 over 3 partitions: a
   read_committed consumer gets exactly the 30 (order, keys, values, offsets), a read_uncommitted
   one all 42 (never a control record).
2. Consume-transform-produce: input i -> output "t<i>", the consumer's positions sent with
   send_offsets_to_transaction in the same transaction; the third round is aborted half-way and
   redone. The output (read_committed) holds every input exactly once and the group's committed
   offsets are the input's end offsets.
"""
import sys
import time
import uuid

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from scenario import BOOTSTRAP, fail

CLIENT = "confluent-kafka transactions"
RUN = uuid.uuid4().hex[:8]
ADMIN = AdminClient({"bootstrap.servers": BOOTSTRAP})


def create(prefix):
    topic = f"{prefix}-{RUN}"
    ADMIN.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    return topic


def producer(transactional_id):
    p = Producer({"bootstrap.servers": BOOTSTRAP, "transactional.id": transactional_id})
    p.init_transactions(30)
    return p


def end_offsets(topic, isolation):
    futures = ADMIN.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in range(3)},
                                 isolation_level=isolation, request_timeout=30)
    return [futures[TopicPartition(topic, p)].result().offset for p in range(3)]


def await_stable(topic):
    """commit_transaction returns once the coordinator has decided; the markers reach the partitions
    just after. Waits until the last stable offset is the high watermark, and returns it."""
    deadline = time.time() + 30
    while True:
        committed = end_offsets(topic, IsolationLevel.READ_COMMITTED)
        everything = end_offsets(topic, IsolationLevel.READ_UNCOMMITTED)
        if committed == everything:
            return committed
        if time.time() > deadline:
            fail(CLIENT, f"{topic} never stable: read_committed ends {committed}, read_uncommitted {everything}")
        time.sleep(0.1)


def read_all(topic, isolation):
    """Every record of the 3 partitions, from the start to the end a consumer of this isolation
    level sees (the last stable offset for read_committed): librdkafka reports that end as a
    partition EOF once it has skipped aborted records and control records."""
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": f"reader-{RUN}", "isolation.level": isolation,
                  "enable.partition.eof": True, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(3)])
    records, at_end, deadline = [], set(), time.time() + 30
    while len(at_end) < 3:
        if time.time() > deadline:
            fail(CLIENT, f"{isolation} read of {topic} stuck after {len(records)} records, at the end of {sorted(at_end)}")
        msg = c.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(msg.partition())
                continue
            fail(CLIENT, f"{isolation} consumer error {msg.error()}")
        records.append((msg.partition(), msg.offset(), msg.key().decode(), msg.value().decode()))
    c.close()
    return records


def committed_and_aborted():
    topic = create("txn-confluent-a")
    n, m = 30, 12
    p = producer(f"txn-confluent-a-{RUN}")
    p.begin_transaction()
    for i in range(n):
        p.produce(topic, key=f"c{i}", value=f"committed-{i}", partition=i % 3)
    p.commit_transaction(30)
    await_stable(topic)
    p.begin_transaction()
    for i in range(m):
        p.produce(topic, key=f"a{i}", value=f"aborted-{i}", partition=i % 3)
    p.flush(30)  # the aborted records really are in the log, not just dropped client-side
    # Per partition: 10 committed records at 0-9, the commit marker at 10, the open transaction's
    # 4 records at 11-14: the last stable offset stays at 11 while the high watermark is 15.
    lso, hw = end_offsets(topic, IsolationLevel.READ_COMMITTED), end_offsets(topic, IsolationLevel.READ_UNCOMMITTED)
    if lso != [11, 11, 11] or hw != [15, 15, 15]:
        fail(CLIENT, f"while a transaction is open: read_committed end offsets {lso} (expected 11 each), read_uncommitted {hw} (expected 15 each)")
    p.abort_transaction(30)
    ends = await_stable(topic)
    if ends != [16, 16, 16]:
        fail(CLIENT, f"end offsets after the abort (marker at 15): {ends}, expected 16 each")

    committed, everything = read_all(topic, "read_committed"), read_all(topic, "read_uncommitted")
    for part in range(3):
        want = [(part, j, f"c{3 * j + part}", f"committed-{3 * j + part}") for j in range(n // 3)]
        want_all = want + [(part, 11 + j, f"a{3 * j + part}", f"aborted-{3 * j + part}") for j in range(m // 3)]
        got = [r for r in committed if r[0] == part]
        got_all = [r for r in everything if r[0] == part]
        if got != want:
            fail(CLIENT, f"read_committed partition {part}: {got}, expected {want}")
        if got_all != want_all:
            fail(CLIENT, f"read_uncommitted partition {part}: {got_all}, expected {want_all}")
    print(f"ok: read_committed saw the {len(committed)} committed, read_uncommitted {len(everything)}")


def consume_transform_produce():
    source, sink = create("txn-confluent-in"), create("txn-confluent-out")
    group, total = f"g-{source}", 45
    plain = Producer({"bootstrap.servers": BOOTSTRAP})
    for i in range(total):
        plain.produce(source, key=f"k{i}", value=str(i), partition=i % 3)
    if plain.flush(30) != 0:
        fail(CLIENT, "input not delivered")

    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group, "isolation.level": "read_committed",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    consumer.subscribe([source])
    p = producer(f"txn-confluent-ctp-{RUN}")
    rounds, aborted, deadline = 0, 0, time.time() + 60
    # Each input partition holds 15 records (no transaction markers): done at position 15.
    while sorted(tp.offset for tp in consumer.position(consumer.assignment())) != [15, 15, 15]:
        if time.time() > deadline:
            fail(CLIENT, f"consume-transform-produce stuck after {rounds} rounds at {consumer.position(consumer.assignment())}")
        batch = [msg for msg in consumer.consume(num_messages=8, timeout=0.5) if not msg.error()]
        if not batch:
            continue
        p.begin_transaction()
        abort = rounds == 2 and aborted == 0 and len(batch) > 1
        for msg in batch[:len(batch) // 2] if abort else batch:
            p.produce(sink, key=msg.key(), value=b"t" + msg.value(), partition=msg.partition())
        if abort:
            # A failure half-way: the sends are flushed into the log, aborted, and the consumer
            # rewinds to the first record of the batch in each partition to redo it.
            p.flush(30)
            p.abort_transaction(30)
            aborted = len(batch) // 2
            firsts = {}
            for msg in batch:
                firsts.setdefault(msg.partition(), msg.offset())
            for part, offset in firsts.items():
                consumer.seek(TopicPartition(source, part, offset))
            continue
        p.send_offsets_to_transaction(consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), 30)
        p.commit_transaction(30)
        rounds += 1
    consumer.close()
    if aborted == 0:
        fail(CLIENT, f"no round was aborted in {rounds} rounds")

    await_stable(sink)
    output = read_all(sink, "read_committed")
    keys = [key for _, _, key, _ in output]
    if len(keys) != total or len(set(keys)) != total:
        fail(CLIENT, f"read_committed output has {len(keys)} records, {len(set(keys))} distinct, expected {total} once each")
    for part, _, key, value in output:
        i = int(key[1:])
        if value != f"t{i}" or part != i % 3:
            fail(CLIENT, f"output {key} = {value} on partition {part}")
    everything = read_all(sink, "read_uncommitted")
    if len(everything) != total + aborted:
        fail(CLIENT, f"read_uncommitted output has {len(everything)} records, expected {total} + {aborted} aborted")

    # The offsets went in with the transactions: the group resumes after the last input.
    check = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group, "isolation.level": "read_committed"})
    offsets = [tp.offset for tp in check.committed([TopicPartition(source, part) for part in range(3)], timeout=30)]
    check.close()
    if offsets != [15, 15, 15]:
        fail(CLIENT, f"group offsets {offsets}, expected the input end offsets [15, 15, 15]")
    print(f"ok: {total} inputs in {rounds} committed rounds, {aborted} sends aborted and redone; group offsets {offsets}")


try:
    committed_and_aborted()
    consume_transform_produce()
except KafkaException as e:
    fail(CLIENT, f"unexpected {e}")
print(f"PASS {CLIENT}")
sys.exit(0)
