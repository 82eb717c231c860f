"""KIP-848 with librdkafka (confluent-kafka-python): a group.protocol=consumer group whose
membership changes mid-stream (A alone, B joins, A leaves, C joins) reads a 6-partition topic
while a classic group reads the same topic beside it. Every member commits synchronously after
each batch, so a record may come twice only at or after its partition's last committed offset;
one delivered again below it, or one never delivered, fails. A partition given to a member
before its previous owner revoked it (its rebalance callback ran) fails too.

With --with-java, member B is a Java kafka-clients consumer (../java/ConsumerMember.java, a
child JVM reporting what it assigns, processes and commits): Java and librdkafka members share
the group."""
import os
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BOOTSTRAP = os.environ["BOOTSTRAP"]
TOPIC = f"kip848-python-{uuid.uuid4().hex[:8]}"
GROUP, CLASSIC = f"g-{TOPIC}", f"classic-{TOPIC}"
N, PARTITIONS = 3000, 6


def fail(message):
    print(f"FAIL confluent-kafka consumer protocol: {message}", flush=True)
    os._exit(1)


class Progress:
    """What one group has processed and committed; shared by its members."""

    def __init__(self, name, end, duplicates_allowed):
        self.name, self.end, self.duplicates_allowed = name, end, duplicates_allowed
        self.committed, self.seen, self.redelivered = {}, set(), 0
        self.owners = {}  # partition -> the member that owns it, per the rebalance callbacks
        self.lock = threading.Lock()

    def processed(self, msg):
        if msg.value().decode() != "v" + msg.key().decode()[1:]:
            fail(f"{msg.key()} has value {msg.value()}")
        p, o = msg.partition(), msg.offset()
        with self.lock:
            if o < self.committed.get(p, 0):
                fail(f"{self.name}: {p}@{o} delivered again after offset {self.committed[p]} was committed")
            if (p, o) in self.seen:
                if not self.duplicates_allowed:
                    fail(f"{self.name}: {p}@{o} delivered twice")
                self.redelivered += 1
            self.seen.add((p, o))

    def commit_done(self, positions):
        with self.lock:
            for p, o in positions.items():
                self.committed[p] = max(self.committed.get(p, 0), o)

    def done(self):
        with self.lock:
            return len(self.seen) == N and all(self.committed.get(p, 0) == o for p, o in self.end.items())


def member(name, protocol, group, progress, stop, assigned):
    """One member: poll, process (slowly, so that membership changes land mid-stream), commit."""

    def run():
        consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group, "group.protocol": protocol,
                             "client.id": name, "auto.offset.reset": "earliest", "enable.auto.commit": False})

        def on_assign(_consumer, partitions):
            if partitions:
                assigned.add(name)
            with progress.lock:
                for tp in partitions:
                    before = progress.owners.setdefault(tp.partition, name)
                    if before != name:
                        fail(f"{TOPIC}[{tp.partition}] assigned to {name} while {before} still owns it")

        def on_revoke(_consumer, partitions):
            with progress.lock:
                for tp in partitions:
                    if progress.owners.get(tp.partition) == name:
                        del progress.owners[tp.partition]

        consumer.subscribe([TOPIC], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_revoke)
        try:
            while not stop.is_set() and not progress.done():
                positions = {}
                for msg in consumer.consume(20, 0.2):
                    if msg.error():
                        fail(f"{name}: consumer error {msg.error()}")
                    progress.processed(msg)
                    positions[msg.partition()] = msg.offset() + 1
                    time.sleep(0.004)
                if not positions:
                    continue
                try:
                    consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in positions.items()],
                                    asynchronous=False)
                    progress.commit_done(positions)
                except KafkaException as e:
                    # Not committed: these records may come again, at or after the last commit.
                    print(f"{name}: commit refused: {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - any error of a member fails the scenario
            fail(f"{name}: {e!r}")
        finally:
            consumer.close()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


class Reported:
    """A record as the Java member reports it, shaped like a confluent-kafka message."""

    def __init__(self, partition, offset, key, value):
        self._p, self._o, self._k, self._v = int(partition), int(offset), key.encode(), value.encode()

    def partition(self):
        return self._p

    def offset(self):
        return self._o

    def key(self):
        return self._k

    def value(self):
        return self._v


def java_member(name, group, progress, stop, assigned):
    """Member `name` as a Java consumer in a child JVM; its reports update `progress` as a
    librdkafka member's callbacks do. Stops (leaves the group) once `stop` is set."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
    child = subprocess.Popen(
        ["java", "-Dlog4j2.configurationFile=" + os.path.join(root, "fixtures/kafka/log4j2.xml"),
         "-Dkafka.logs.dir=" + os.environ.get("TMPDIR", "/tmp"),
         "-cp", os.path.join(root, ".cache/kafka/libs/*"),
         os.path.join(root, "tests/clients/java/ConsumerMember.java"), BOOTSTRAP, TOPIC, group, name],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def read():
        for line in child.stdout:
            kind, *rest = line.split()
            if kind == "A":
                assigned.add(name)
                with progress.lock:
                    before = progress.owners.setdefault(int(rest[0]), name)
                    if before != name:
                        fail(f"{TOPIC}[{rest[0]}] assigned to {name} while {before} still owns it")
            elif kind == "R":
                with progress.lock:
                    if progress.owners.get(int(rest[0])) == name:
                        del progress.owners[int(rest[0])]
            elif kind == "M":
                progress.processed(Reported(*rest))
            elif kind == "C":
                progress.commit_done({int(rest[0]): int(rest[1])})
            elif kind == "N":
                print(f"{name}: commit refused: {' '.join(rest)}", flush=True)

    def run():
        reader = threading.Thread(target=read, name=f"{name}-reports")
        reader.start()
        while not stop.is_set() and not progress.done() and child.poll() is None:
            time.sleep(0.05)
        if child.poll() is not None:
            fail(f"{name}: the Java member exited with {child.returncode}")
        child.stdin.write("stop\n")
        child.stdin.flush()
        if child.wait(60) != 0:
            fail(f"{name}: the Java member exited with {child.returncode}")
        reader.join()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def wait_for(what, seconds, condition):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def main():
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    admin.create_topics([NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)])[TOPIC].result(30)
    end = {}

    def delivered(err, msg):
        if err:
            fail(f"not delivered: {err}")
        end[msg.partition()] = max(end.get(msg.partition(), 0), msg.offset() + 1)

    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for i in range(N):
        producer.produce(TOPIC, key=f"k{i}", value=f"v{i}", on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30) != 0 or sum(end.values()) != N:
        fail("not every record was delivered")
    if len(end) != PARTITIONS:
        fail(f"records landed in {len(end)} partitions")

    progress, classic = Progress(GROUP, end, True), Progress(CLASSIC, end, False)
    assigned = set()
    stop_a, stop_all = threading.Event(), threading.Event()
    threads = [member("classic", "classic", CLASSIC, classic, stop_all, set())]
    a = member("A", "consumer", GROUP, progress, stop_a, assigned)
    wait_for("A to consume", 60, lambda: len(progress.seen) >= N // 6)
    with_java = "--with-java" in sys.argv
    b = java_member if with_java else (lambda *a: member(a[0], "consumer", *a[1:]))
    threads.append(b("B", GROUP, progress, stop_all, assigned))
    wait_for("B to be assigned partitions", 60, lambda: "B" in assigned)
    wait_for("half of the records", 120, lambda: len(progress.seen) >= N // 2)
    stop_a.set()
    a.join()
    threads.append(member("C", "consumer", GROUP, progress, stop_all, assigned))
    wait_for("C to be assigned partitions", 60, lambda: "C" in assigned)
    listed = {g.group_id: g for g in admin.list_consumer_groups().result(30).valid}
    for group in (GROUP, CLASSIC):
        if group not in listed:
            fail(f"{group} not listed: {sorted(listed)}")
    described = admin.describe_consumer_groups([GROUP]).get(GROUP).result(30)
    if len(described.members) != 2:
        fail(f"{GROUP} described with members {described.members}")
    wait_for("every record consumed and committed", 180, lambda: progress.done() and classic.done())
    stop_all.set()
    for thread in threads:
        thread.join()
    for group in (GROUP, CLASSIC):
        request = [ConsumerGroupTopicPartitions(group)]
        found = admin.list_consumer_group_offsets(request)[group].result(30)
        committed = {tp.partition: tp.offset for tp in found.topic_partitions if tp.topic == TOPIC}
        if committed != end:
            fail(f"{group} committed {committed}, end offsets {end}")
    print(f"redelivered after a refused commit: {progress.redelivered}")
    print("PASS " + ("librdkafka and Java members in one" if with_java else "confluent-kafka") + " consumer protocol group")


if __name__ == "__main__":
    main()
    sys.exit(0)
