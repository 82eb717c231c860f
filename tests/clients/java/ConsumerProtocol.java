// KIP-848 with the Java kafka-clients 4.1: a group.protocol=consumer group whose membership
// changes mid-stream (A alone, B joins, A leaves, C joins) reads a 6-partition topic while a
// classic group reads the same topic beside it. Every member commits synchronously after each
// batch, so a record may come twice only at or after its partition's last committed offset;
// one delivered again below it, or one never delivered, fails. A partition given to a member
// before its previous owner revoked it (its rebalance listener ran) fails too. Run as a single-file program:
//   BOOTSTRAP=host:port java -cp '.cache/kafka/libs/*' tests/clients/java/ConsumerProtocol.java
import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class ConsumerProtocol {
    static final String BOOTSTRAP = System.getenv("BOOTSTRAP");
    static final String TOPIC = "kip848-java-" + UUID.randomUUID().toString().substring(0, 8);
    static final String GROUP = "g-" + TOPIC, CLASSIC = "classic-" + TOPIC;
    static final int N = 3000, PARTITIONS = 6;

    static void fail(String message) {
        System.out.println("FAIL java consumer protocol: " + message);
        System.out.flush();
        Runtime.getRuntime().halt(1);
    }

    /** What one group has processed and committed; shared by its members. */
    static class Progress {
        final Map<Integer, Long> end;
        final Map<Integer, Long> committed = new ConcurrentHashMap<>();
        final Set<Long> seen = ConcurrentHashMap.newKeySet();
        final AtomicInteger redelivered = new AtomicInteger();
        final boolean duplicatesAllowed;

        Progress(Map<Integer, Long> end, boolean duplicatesAllowed) {
            this.end = end;
            this.duplicatesAllowed = duplicatesAllowed;
        }

        void processed(ConsumerRecord<String, String> r) {
            if (!r.value().equals("v" + r.key().substring(1))) fail(r.key() + " has value " + r.value());
            long committedAt = committed.getOrDefault(r.partition(), 0L);
            if (r.offset() < committedAt) fail(GROUP_OF(this) + ": " + r.partition() + "@" + r.offset() + " delivered again after offset " + committedAt + " was committed");
            if (!seen.add(((long) r.partition() << 32) | r.offset())) {
                if (!duplicatesAllowed) fail(GROUP_OF(this) + ": " + r.partition() + "@" + r.offset() + " delivered twice");
                redelivered.incrementAndGet();
            }
        }

        void committed(Map<TopicPartition, OffsetAndMetadata> offsets) {
            offsets.forEach((tp, o) -> committed.merge(tp.partition(), o.offset(), Math::max));
        }

        boolean done() {
            return seen.size() == N && end.entrySet().stream().allMatch(e -> committed.getOrDefault(e.getKey(), 0L).equals(e.getValue()));
        }
    }

    static Progress consumerProgress;
    /** The consumer group's partitions and the member that owns each, per the listeners. */
    static final Map<Integer, String> owners = new ConcurrentHashMap<>();

    static String GROUP_OF(Progress p) {
        return p == consumerProgress ? GROUP : CLASSIC;
    }

    /** One member: poll, process (slowly, so that membership changes land mid-stream), commit. */
    static Thread member(String name, String protocol, String group, Progress progress, AtomicBoolean stop, Set<String> assigned) {
        Thread t = new Thread(() -> {
            Properties p = new Properties();
            p.put("bootstrap.servers", BOOTSTRAP);
            p.put("group.id", group);
            p.put("group.protocol", protocol);
            p.put("client.id", name);
            p.put("auto.offset.reset", "earliest");
            p.put("enable.auto.commit", "false");
            p.put("max.poll.records", "20");
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
                boolean tracked = progress == consumerProgress;
                c.subscribe(List.of(TOPIC), new ConsumerRebalanceListener() {
                    public void onPartitionsRevoked(Collection<TopicPartition> ps) {
                        if (tracked) for (TopicPartition tp : ps) owners.remove(tp.partition(), name);
                    }
                    public void onPartitionsLost(Collection<TopicPartition> ps) {
                        onPartitionsRevoked(ps);
                    }
                    public void onPartitionsAssigned(Collection<TopicPartition> ps) {
                        if (!ps.isEmpty()) assigned.add(name);
                        for (TopicPartition tp : ps) {
                            String before = tracked ? owners.putIfAbsent(tp.partition(), name) : null;
                            if (before != null && !before.equals(name)) fail(tp + " assigned to " + name + " while " + before + " still owns it");
                        }
                    }
                });
                while (!stop.get() && !progress.done()) {
                    Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        progress.processed(r);
                        positions.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                        Thread.sleep(4);
                    }
                    if (positions.isEmpty()) continue;
                    try {
                        c.commitSync(positions);
                        progress.committed(positions);
                    } catch (CommitFailedException | org.apache.kafka.common.errors.RebalanceInProgressException e) {
                        // Not committed: these records may come again, at or after the last commit.
                        System.out.println(name + ": commit refused: " + e);
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (Exception e) {
                fail(name + ": " + e);
            }
        }, name);
        t.start();
        return t;
    }

    static void await(String what, long seconds, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + seconds * 1000;
        while (!condition.getAsBoolean()) {
            if (System.currentTimeMillis() > deadline) fail("timed out waiting for " + what);
            Thread.sleep(50);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<Integer, Long> end = new ConcurrentHashMap<>();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            admin.createTopics(List.of(new NewTopic(TOPIC, PARTITIONS, (short) 1))).all().get();
        }
        Properties pp = new Properties();
        pp.put("bootstrap.servers", BOOTSTRAP);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp, new StringSerializer(), new StringSerializer())) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < N; i++) sent.add(producer.send(new ProducerRecord<>(TOPIC, "k" + i, "v" + i)));
            for (var f : sent) end.merge(f.get().partition(), f.get().offset() + 1, Math::max);
        }
        if (end.size() != PARTITIONS) fail("records landed in " + end.size() + " partitions");
        Progress progress = consumerProgress = new Progress(end, true);
        Progress classic = new Progress(end, false);
        Set<String> assigned = ConcurrentHashMap.newKeySet();
        AtomicBoolean stopA = new AtomicBoolean(), stopAll = new AtomicBoolean();
        Thread classicMember = member("classic", "classic", CLASSIC, classic, stopAll, ConcurrentHashMap.newKeySet());
        Thread a = member("A", "consumer", GROUP, progress, stopA, assigned);
        await("A to consume", 60, () -> progress.seen.size() >= N / 6);
        Thread b = member("B", "consumer", GROUP, progress, stopAll, assigned);
        await("B to be assigned partitions", 60, () -> assigned.contains("B"));
        await("half of the records", 120, () -> progress.seen.size() >= N / 2);
        stopA.set(true);
        a.join();
        Thread c = member("C", "consumer", GROUP, progress, stopAll, assigned);
        await("C to be assigned partitions", 60, () -> assigned.contains("C"));
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            var described = admin.describeConsumerGroups(List.of(GROUP, CLASSIC)).all().get();
            ConsumerGroupDescription g = described.get(GROUP);
            if (g.type() != GroupType.CONSUMER) fail(GROUP + " described as " + g.type());
            if (g.members().size() != 2) fail(GROUP + " has members " + g.members());
            if (!"uniform".equals(g.partitionAssignor())) fail(GROUP + " assignor " + g.partitionAssignor());
            if (described.get(CLASSIC).type() != GroupType.CLASSIC) fail(CLASSIC + " described as " + described.get(CLASSIC).type());
            Map<String, GroupType> types = new HashMap<>();
            for (GroupListing l : admin.listGroups().all().get()) types.put(l.groupId(), l.type().orElse(null));
            if (types.get(GROUP) != GroupType.CONSUMER || types.get(CLASSIC) != GroupType.CLASSIC) fail("listed group types " + types);
        }
        await("every record consumed and committed", 180, () -> progress.done() && classic.done());
        stopAll.set(true);
        for (Thread t : List.of(b, c, classicMember)) t.join();
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            for (String group : List.of(GROUP, CLASSIC)) {
                var offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                for (var e : end.entrySet()) {
                    var o = offsets.get(new TopicPartition(TOPIC, e.getKey()));
                    if (o == null || o.offset() != e.getValue()) fail(group + " committed " + o + " for partition " + e.getKey() + ", end " + e.getValue());
                }
            }
            admin.deleteConsumerGroups(List.of(GROUP)).all().get();
        }
        System.out.println("redelivered after a refused commit: " + progress.redelivered.get());
        System.out.println("PASS java consumer protocol");
        System.exit(0);
    }
}
