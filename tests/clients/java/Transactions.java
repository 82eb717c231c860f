// Kafka transactions with the Java kafka-clients 4.1 (see ../README.md, "Transactions"):
//   a. a committed and an aborted transaction over 3 partitions, read both ways, with the exact
//      end offsets (last stable offset vs high watermark) while one is open and after;
//   b. consume-transform-produce with sendOffsetsToTransaction, one round aborted and redone;
//   c. a producer killed mid-transaction (a child JVM that halts), then fenced and its
//      transaction aborted by a new producer with the same transactional.id; zombie fencing;
//   d. what Admin listTransactions/describeTransactions report while ongoing and after commit.
// Run as a single-file program on the jars fixtures/kafka assembles:
//   java -cp '.cache/kafka/libs/*' tests/clients/java/Transactions.java
// The child JVM of (c) is this same file run with `abandon <transactional.id> <topic> <count>`.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.serialization.*;

public class Transactions {
    static final String BOOTSTRAP = System.getenv("BOOTSTRAP");
    static final String RUN = UUID.randomUUID().toString().substring(0, 8);
    static final String RC = "read_committed", RU = "read_uncommitted";
    static Admin admin;

    static void fail(String message) {
        System.out.println("FAIL java transactions: " + message);
        System.exit(1);
    }

    static void expect(boolean ok, String message) {
        if (!ok) fail(message);
    }

    static KafkaProducer<String, String> producer(String transactionalId) {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        if (transactionalId != null) p.put("transactional.id", transactionalId);
        // initTransactions/commit block up to max.block.ms (60 s by default): a broker that never
        // answers must fail the run well inside client-compat's 180 s, not hang it.
        p.put("max.block.ms", "30000");
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    static KafkaConsumer<String, String> consumer(String isolation, String group) {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        p.put("isolation.level", isolation);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        if (group != null) {
            p.put("group.id", group);
            p.put("max.poll.records", "8"); // several transactions per run of (b)
        }
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    static String create(String prefix) throws Exception {
        String topic = prefix + "-" + RUN;
        admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
        return topic;
    }

    static List<TopicPartition> partitions(String topic) {
        return List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1), new TopicPartition(topic, 2));
    }

    // A consumer's endOffsets: the last stable offset under read_committed, the high watermark
    // under read_uncommitted.
    static List<Long> endOffsets(String topic, String isolation) {
        try (var c = consumer(isolation, null)) {
            var ends = c.endOffsets(partitions(topic));
            return partitions(topic).stream().map(ends::get).toList();
        }
    }

    // commitTransaction returns once the coordinator has decided; the markers reach the partitions
    // just after. Checks that need the outcome visible wait here for the LSO to reach the HW.
    static List<Long> awaitStable(String topic) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        while (true) {
            List<Long> rc = endOffsets(topic, RC), ru = endOffsets(topic, RU);
            if (rc.equals(ru)) return rc;
            if (System.currentTimeMillis() > deadline) fail(topic + " never stable: read_committed ends " + rc + ", read_uncommitted " + ru);
            Thread.sleep(100);
        }
    }

    record Read(List<ConsumerRecord<String, String>> records, List<Long> ends, List<Long> positions) {
        // partition -> "offset:key=value" in the order the consumer returned them
        List<String> of(int partition) {
            return records.stream().filter(r -> r.partition() == partition)
                .map(r -> r.offset() + ":" + r.key() + "=" + r.value()).toList();
        }
    }

    // Reads all 3 partitions from the start up to the consumer's own end offsets.
    static Read readAll(String topic, String isolation) {
        try (var c = consumer(isolation, null)) {
            var tps = partitions(topic);
            c.assign(tps);
            c.seekToBeginning(tps);
            var ends = c.endOffsets(tps);
            List<ConsumerRecord<String, String>> records = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 30_000;
            while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                if (System.currentTimeMillis() > deadline) fail(isolation + " read of " + topic + " stuck at " + tps.stream().map(c::position).toList() + ", ends " + ends);
                c.poll(Duration.ofMillis(200)).forEach(records::add);
            }
            return new Read(records, tps.stream().map(ends::get).toList(), tps.stream().map(c::position).toList());
        }
    }

    // a. N committed and M aborted records, spread evenly over 3 partitions.
    static void committedAndAborted() throws Exception {
        String topic = create("txn-java-a");
        int n = 30, m = 12;
        try (var p = producer("txn-java-a-" + RUN)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, i % 3, "c" + i, "committed-" + i));
            p.commitTransaction();
            awaitStable(topic);
            p.beginTransaction();
            for (int i = 0; i < m; i++) p.send(new ProducerRecord<>(topic, i % 3, "a" + i, "aborted-" + i));
            p.flush();
            // Per partition: 10 committed records (offsets 0-9) and the commit marker (10); the open
            // transaction's 4 records (11-14) are below the high watermark but past the LSO.
            List<Long> rc = endOffsets(topic, RC), ru = endOffsets(topic, RU);
            expect(rc.equals(List.of(11L, 11L, 11L)), "read_committed endOffsets while a transaction is open: " + rc + ", expected the LSO 11 per partition");
            expect(ru.equals(List.of(15L, 15L, 15L)), "read_uncommitted endOffsets while a transaction is open: " + ru + ", expected the HW 15 per partition");
            p.abortTransaction();
        }
        // The abort marker takes offset 15; nothing is open, so LSO = HW = 16.
        List<Long> stable = awaitStable(topic);
        expect(stable.equals(List.of(16L, 16L, 16L)), "end offsets after the abort: " + stable + ", expected 16 per partition");

        Read committed = readAll(topic, RC), all = readAll(topic, RU);
        expect(committed.records.size() == n, "read_committed saw " + committed.records.size() + " records, expected the " + n + " committed");
        expect(all.records.size() == n + m, "read_uncommitted saw " + all.records.size() + " records, expected " + (n + m) + " (control records are not records)");
        for (int part = 0; part < 3; part++) {
            List<String> want = new ArrayList<>(), wantAll = new ArrayList<>();
            for (int j = 0; j < n / 3; j++) want.add(j + ":c" + (3 * j + part) + "=committed-" + (3 * j + part));
            wantAll.addAll(want);
            for (int j = 0; j < m / 3; j++) wantAll.add((11 + j) + ":a" + (3 * j + part) + "=aborted-" + (3 * j + part));
            expect(committed.of(part).equals(want), "read_committed partition " + part + ": " + committed.of(part) + ", expected " + want);
            expect(all.of(part).equals(wantAll), "read_uncommitted partition " + part + ": " + all.of(part) + ", expected " + wantAll);
        }
        // The consumer skips the aborted records and both markers: its position ends past them.
        expect(committed.ends.equals(List.of(16L, 16L, 16L)) && committed.positions.equals(List.of(16L, 16L, 16L)),
            "read_committed consumer: endOffsets " + committed.ends + ", positions at the end " + committed.positions + ", expected 16 each");
        expect(all.positions.equals(List.of(16L, 16L, 16L)), "read_uncommitted positions at the end " + all.positions + ", expected 16 each");
        System.out.println("ok a: " + n + " committed, " + m + " aborted; LSO 11 / HW 15 while open, 16 after");
    }

    // b. consume-transform-produce: input i -> output "t" + i on the same partition, the input
    // offsets committed in the same transaction; the third round is aborted half-way and redone.
    static void consumeTransformProduce() throws Exception {
        String in = create("txn-java-in"), out = create("txn-java-out");
        String group = "g-" + in;
        int total = 60;
        try (var plain = producer(null)) {
            for (int i = 0; i < total; i++) plain.send(new ProducerRecord<>(in, i % 3, "k" + i, Integer.toString(i)));
            plain.flush();
        }
        int rounds = 0, abortedSends = 0;
        try (var c = consumer(RC, group); var p = producer("txn-java-ctp-" + RUN)) {
            c.subscribe(List.of(in));
            p.initTransactions();
            var ends = c.endOffsets(partitions(in));
            long deadline = System.currentTimeMillis() + 60_000;
            while (c.assignment().isEmpty() || ends.entrySet().stream().anyMatch(e -> c.position(e.getKey()) < e.getValue())) {
                if (System.currentTimeMillis() > deadline) fail("consume-transform-produce stuck after " + rounds + " rounds");
                var batch = c.poll(Duration.ofMillis(200));
                if (batch.isEmpty()) continue;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                int sent = 0;
                boolean abort = rounds == 2 && abortedSends == 0 && batch.count() > 1;
                for (var r : batch) {
                    if (abort && sent == batch.count() / 2) break;
                    p.send(new ProducerRecord<>(out, r.partition(), r.key(), "t" + r.value()));
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    sent++;
                }
                if (abort) {
                    // A failure half-way: the sends are flushed (so they are in the log), then
                    // aborted, and the consumer rewinds to redo the whole batch.
                    p.flush();
                    p.abortTransaction();
                    abortedSends = sent;
                    for (var tp : batch.partitions()) c.seek(tp, batch.records(tp).get(0).offset());
                    continue;
                }
                p.sendOffsetsToTransaction(next, c.groupMetadata());
                p.commitTransaction();
                rounds++;
            }
        }
        expect(abortedSends > 0, "no round was aborted (" + rounds + " rounds)");
        awaitStable(out);
        Read committed = readAll(out, RC), all = readAll(out, RU);
        Set<String> seen = new HashSet<>();
        for (var r : committed.records) {
            int i = Integer.parseInt(r.key().substring(1));
            expect(r.value().equals("t" + i) && r.partition() == i % 3, "output " + r.key() + " = " + r.value() + " on partition " + r.partition());
            expect(seen.add(r.key()), "output " + r.key() + " committed twice");
        }
        expect(seen.size() == total, "read_committed output has " + seen.size() + " distinct of " + total + " inputs");
        expect(all.records.size() == total + abortedSends, "read_uncommitted output has " + all.records.size() + " records, expected " + total + " + " + abortedSends + " aborted");
        var committedOffsets = admin.listConsumerGroupOffsets(group, new ListConsumerGroupOffsetsOptions().requireStable(true))
            .partitionsToOffsetAndMetadata().get();
        List<Long> groupOffsets = partitions(in).stream().map(tp -> committedOffsets.get(tp) == null ? -1L : committedOffsets.get(tp).offset()).toList();
        expect(groupOffsets.equals(endOffsets(in, RU)), "group offsets " + groupOffsets + ", expected the input end offsets " + endOffsets(in, RU));
        System.out.println("ok b: " + total + " records in " + rounds + " committed rounds, " + abortedSends + " sends aborted and redone; group offsets " + groupOffsets);
    }

    // The child JVM of (c): opens a transaction, gets K records acknowledged, and dies without
    // ending it (halt skips close() and every shutdown hook, like kill -9).
    static void abandon(String transactionalId, String topic, int count) throws Exception {
        var p = producer(transactionalId);
        p.initTransactions();
        p.beginTransaction();
        for (int i = 0; i < count; i++) p.send(new ProducerRecord<>(topic, 0, "abandoned" + i, "x")).get();
        System.out.println("SENT " + count);
        System.out.flush();
        Runtime.getRuntime().halt(1);
    }

    // This JVM's own command line up to the source file, so the child runs the same way.
    static List<String> childCommand(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ProcessHandle.current().info().arguments().orElseThrow()) {
            cmd.add(a);
            if (a.endsWith("Transactions.java")) break;
        }
        cmd.addAll(List.of(args));
        return cmd;
    }

    static void abandonedTransaction() throws Exception {
        String topic = create("txn-java-c");
        String id = "txn-java-abandon-" + RUN;
        int k = 5;
        // 3 committed records first (offsets 0-2, marker 3), so the stuck LSO is not just 0.
        try (var p = producer("txn-java-before-" + RUN)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>(topic, 0, "before" + i, "b"));
            p.commitTransaction();
        }
        awaitStable(topic);
        Process child = new ProcessBuilder(childCommand("abandon", id, topic, Integer.toString(k))).redirectErrorStream(true).start();
        List<String> childOut = new ArrayList<>();
        try (var lines = new BufferedReader(new InputStreamReader(child.getInputStream()))) {
            for (String line; (line = lines.readLine()) != null; ) childOut.add(line);
        }
        int exit = child.waitFor();
        expect(exit == 1 && childOut.contains("SENT " + k), "abandoning child exited " + exit + " saying " + childOut);

        // The K records sit at offsets 4-8 of partition 0 in a transaction nobody will end:
        // the HW is past them, the LSO stays at its first offset, 4.
        long rc = endOffsets(topic, RC).get(0), ru = endOffsets(topic, RU).get(0);
        expect(rc == 4 && ru == 9, "while the killed producer's transaction is open: LSO " + rc + " (expected 4), HW " + ru + " (expected 9)");
        try (var c = consumer(RC, null)) {
            var tp = new TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            List<String> keys = new ArrayList<>();
            long until = System.currentTimeMillis() + 2_000;
            while (System.currentTimeMillis() < until) c.poll(Duration.ofMillis(200)).forEach(r -> keys.add(r.key()));
            expect(keys.equals(List.of("before0", "before1", "before2")) && c.position(tp) == 4,
                "read_committed with the transaction open saw " + keys + " and stopped at " + c.position(tp) + ", expected before0-2 and 4");
        }

        // A new producer with the same transactional.id: initTransactions fences the dead one and
        // aborts its transaction (marker at 9); then its own 4 records (10-13) and commit (14).
        try (var p = producer(id)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 4; i++) p.send(new ProducerRecord<>(topic, 0, "new" + i, "n"));
            p.commitTransaction();
        }
        List<Long> stable = awaitStable(topic);
        expect(stable.get(0) == 15, "partition 0 end offset after the recovery: " + stable.get(0) + ", expected 15");
        Read committed = readAll(topic, RC), all = readAll(topic, RU);
        var want = List.of("0:before0=b", "1:before1=b", "2:before2=b", "10:new0=n", "11:new1=n", "12:new2=n", "13:new3=n");
        expect(committed.of(0).equals(want), "read_committed after the recovery: " + committed.of(0) + ", expected " + want);
        expect(all.of(0).size() == 3 + k + 4, "read_uncommitted after the recovery: " + all.of(0).size() + " records, expected " + (3 + k + 4));
        System.out.println("ok c: killed producer's " + k + " records held the LSO at 4 (HW 9), aborted by the next initTransactions; end offset 15");
    }

    static String describe(Throwable e) {
        return e == null ? "no error" : e.getClass().getSimpleName() + " (" + e.getMessage() + ")";
    }

    // A zombie: p1 still running when p2 takes over its transactional.id.
    static void fencing() throws Exception {
        String topic = create("txn-java-f");
        String id = "txn-java-fence-" + RUN;
        try (var p1 = producer(id)) {
            p1.initTransactions();
            p1.beginTransaction();
            p1.send(new ProducerRecord<>(topic, 0, "zombie0", "z")).get();
            try (var p2 = producer(id)) {
                p2.initTransactions();
                Throwable sendError = null, commitError = null;
                try {
                    p1.send(new ProducerRecord<>(topic, 0, "zombie1", "z")).get();
                } catch (ExecutionException e) {
                    sendError = e.getCause();
                } catch (KafkaException e) {
                    sendError = e;
                }
                try {
                    p1.commitTransaction();
                } catch (KafkaException e) {
                    commitError = e;
                }
                // Pinned from Apache Kafka 4.1 (transaction.version 2, KIP-890): the zombie's
                // produce and its commit both fail with INVALID_PRODUCER_EPOCH, not
                // PRODUCER_FENCED (which transaction.version 0/1 brokers answered).
                expect(sendError instanceof InvalidProducerEpochException, "the fenced producer's send: " + describe(sendError) + ", expected InvalidProducerEpochException");
                expect(commitError instanceof InvalidProducerEpochException, "the fenced producer's commit: " + describe(commitError) + ", expected InvalidProducerEpochException");
                p2.beginTransaction();
                p2.send(new ProducerRecord<>(topic, 0, "live0", "l"));
                p2.commitTransaction();
            }
        }
        awaitStable(topic);
        var keys = readAll(topic, RC).records.stream().map(ConsumerRecord::key).toList();
        expect(keys.equals(List.of("live0")), "read_committed after fencing: " + keys + ", expected only live0");
        System.out.println("ok c: the zombie's send and commit failed with InvalidProducerEpochException");
    }

    static TransactionListing listing(String id) throws Exception {
        return admin.listTransactions().all().get().stream().filter(l -> l.transactionalId().equals(id)).findFirst().orElse(null);
    }

    // d. What an operator sees of a transaction through the Admin API.
    static void adminView() throws Exception {
        String topic = create("txn-java-d");
        String id = "txn-java-admin-" + RUN;
        try (var p = producer(id)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "x", "x")).get();
            p.send(new ProducerRecord<>(topic, 2, "y", "y")).get();
            TransactionListing l = listing(id);
            expect(l != null && l.state() == TransactionState.ONGOING, "listTransactions while ongoing: " + l);
            TransactionDescription d = admin.describeTransactions(List.of(id)).description(id).get();
            // A fresh transactional.id's first transaction runs at epoch 0, with the partitions it
            // wrote to (added by the produce itself under transaction.version 2) and the default
            // transaction.timeout.ms.
            expect(d.state() == TransactionState.ONGOING && d.producerId() == l.producerId() && d.producerEpoch() == 0
                && d.topicPartitions().equals(Set.of(new TopicPartition(topic, 0), new TopicPartition(topic, 2)))
                && d.transactionStartTimeMs().isPresent() && d.transactionTimeoutMs() == 60_000,
                "describeTransactions while ongoing: " + d);
            long started = d.transactionStartTimeMs().getAsLong();
            p.commitTransaction();
            long deadline = System.currentTimeMillis() + 10_000;
            while ((d = admin.describeTransactions(List.of(id)).description(id).get()).state() != TransactionState.COMPLETE_COMMIT) {
                if (System.currentTimeMillis() > deadline) fail("describeTransactions after commit: " + d);
                Thread.sleep(100);
            }
            l = listing(id);
            // Pinned from Apache Kafka 4.1: after the commit no partitions, the same producer id, the
            // epoch bumped by the commit (transaction.version 2 bumps it at every EndTxn), and the
            // start time of the finished transaction still reported.
            expect(d.topicPartitions().isEmpty() && d.producerId() == l.producerId() && d.producerEpoch() == 1
                && d.transactionStartTimeMs().equals(OptionalLong.of(started)),
                "describeTransactions after commit: " + d + ", expected no partitions, epoch 1, start time " + started);
            expect(l.state() == TransactionState.COMPLETE_COMMIT, "listTransactions after commit: " + l);
        }
        System.out.println("ok d: listTransactions/describeTransactions Ongoing -> CompleteCommit");
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 4 && args[0].equals("abandon")) {
            abandon(args[1], args[2], Integer.parseInt(args[3]));
            return;
        }
        try (Admin a = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            admin = a;
            committedAndAborted();
            consumeTransformProduce();
            abandonedTransaction();
            fencing();
            adminView();
        } catch (KafkaException | ExecutionException e) {
            e.printStackTrace(System.out);
            fail("unexpected " + describe(e instanceof ExecutionException ? e.getCause() : e));
        }
        System.out.println("PASS java transactions");
    }
}
