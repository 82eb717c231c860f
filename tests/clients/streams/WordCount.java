// Kafka Streams exactly-once (processing.guarantee=exactly_once_v2) against the broker in
// BOOTSTRAP; see ../README.md, "Transactions". Run by wordcount.sh, which assembles the jars.
//
// The driver runs a word count (input -> words -> repartition by word -> count, a KTable written
// to the output topic) as a child JVM and writes 2,000 lines with a known word histogram to the
// input as it runs. Once some counts are committed and a quarter of the input is processed, it
// SIGKILLs the app mid-transaction (one commits every 100 ms), restarts it on the same state
// directory, and reads the output read_committed: the last count per word must equal the
// histogram exactly (an input line processed twice, or a lost one, shows as a wrong count).
//
// The child JVM is this same file run with `app <application.id> <input> <output> <state dir>`.
import java.io.File;
import java.nio.file.*;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;
import org.apache.kafka.streams.*;
import org.apache.kafka.streams.kstream.*;

public class WordCount {
    static final String BOOTSTRAP = System.getenv("BOOTSTRAP");
    static final int LINES = 2000, GATE = 20;
    static Path appLog;
    static volatile Process running; // the app, killed whenever the driver exits

    // The FAIL line comes last: client-compat.sh shows a failure's last lines.
    static void fail(String message) {
        try {
            List<String> lines = Files.readAllLines(appLog);
            System.out.println("last lines of the app's log " + appLog + ":");
            lines.subList(Math.max(0, lines.size() - 15), lines.size()).forEach(System.out::println);
        } catch (Exception ignored) {
        }
        System.out.println("FAIL kafka-streams exactly-once: " + message);
        System.exit(1);
    }

    // ---- the Streams application (child JVM) ----

    static void app(String appId, String input, String output, String stateDir) throws Exception {
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .flatMapValues(line -> Arrays.asList(line.split(" ")))
            .groupBy((k, word) -> word, Grouped.with(Serdes.String(), Serdes.String()))
            .count(Materialized.as("counts"))
            .toStream()
            .to(output, Produced.with(Serdes.String(), Serdes.Long()));
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        // A transaction per 100 ms: many commits per run, and the kill surely lands in one.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Internal topics (the repartition topic, the counts' changelog) on a single broker.
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        // No record cache: every count update goes to the changelog and the output as it happens,
        // inside the open transaction, instead of being held back until the commit; so the kill
        // can leave written but uncommitted counts behind (an at_least_once app double counts them).
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        // ... and sent at once too (Streams' producer lingers 100 ms by default, until the commit).
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 0);
        // The killed instance's group member lingers until its session times out (45 s by
        // default) before the restarted one gets the partitions; 6 s is the broker's minimum.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
        KafkaStreams streams = new KafkaStreams(builder.build(), p);
        streams.setStateListener((now, before) -> {
            System.out.println("streams state " + before + " -> " + now);
            // An app that gave up must not look like a slow one to the driver.
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.PENDING_ERROR) Runtime.getRuntime().halt(2);
        });
        streams.start();
        // Until the driver kills it, or dies itself (SIGKILLed drivers run no shutdown hook).
        ProcessHandle driver = ProcessHandle.current().parent().orElseThrow();
        while (driver.isAlive()) Thread.sleep(1_000);
        Runtime.getRuntime().halt(3);
    }

    // ---- the driver ----

    // This JVM's own command line up to the source file, so the child runs the same way.
    static Process startApp(String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        for (String a : ProcessHandle.current().info().arguments().orElseThrow()) {
            cmd.add(a);
            if (a.endsWith("WordCount.java")) break;
        }
        cmd.add("app");
        cmd.addAll(List.of(args));
        Process app = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(appLog.toFile())).start();
        running = app;
        return app;
    }

    // Input lines processed and committed by the app: its group's committed input offsets (the
    // input is written without transactions, so offset = lines).
    static long processed(Admin admin, String appId, String input) throws Exception {
        var offsets = admin.listConsumerGroupOffsets(appId).partitionsToOffsetAndMetadata().get();
        return offsets.entrySet().stream().filter(e -> e.getKey().topic().equals(input) && e.getValue() != null)
            .mapToLong(e -> e.getValue().offset()).sum();
    }

    // Output records past the last stable offset: written by a transaction still open.
    static long uncommitted(Admin admin, String topic) throws Exception {
        Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
        for (int p = 0; p < 3; p++) latest.put(new TopicPartition(topic, p), OffsetSpec.latest());
        long open = 0;
        var lso = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
        var hw = admin.listOffsets(latest, new ListOffsetsOptions(IsolationLevel.READ_UNCOMMITTED)).all().get();
        for (var tp : latest.keySet()) open += hw.get(tp).offset() - lso.get(tp).offset();
        return open;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 5 && args[0].equals("app")) {
            app(args[1], args[2], args[3], args[4]);
            return;
        }
        // A failing or timed-out (SIGTERM) driver must not leave a Streams app running forever.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (running != null) running.destroyForcibly();
        }));
        String run = UUID.randomUUID().toString().substring(0, 8);
        String appId = "wordcount-" + run, input = "wordcount-in-" + run, output = "wordcount-out-" + run;
        Path stateDir = Files.createTempDirectory("wordcount-state-");
        appLog = Files.createTempFile("wordcount-app-", ".log");

        // The text: 2,000 lines of 1-8 words from a skewed vocabulary of 60, seeded so every run
        // has the same histogram.
        Random random = new Random(20261129);
        List<String> lines = new ArrayList<>();
        Map<String, Long> histogram = new TreeMap<>();
        for (int i = 0; i < LINES; i++) {
            List<String> words = new ArrayList<>();
            for (int w = 0, n = 1 + random.nextInt(8); w < n; w++) words.add("w" + random.nextInt(1 + random.nextInt(60)));
            words.forEach(word -> histogram.merge(word, 1L, Long::sum));
            lines.add(String.join(" ", words));
        }

        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP));
             var producer = new KafkaProducer<>(Map.<String, Object>of("bootstrap.servers", BOOTSTRAP), new StringSerializer(), new StringSerializer())) {
            admin.createTopics(List.of(new NewTopic(input, 3, (short) 1), new NewTopic(output, 3, (short) 1))).all().get();
            // The first lines only: once the app has committed them it is up and running.
            for (int i = 0; i < GATE; i++) producer.send(new ProducerRecord<>(input, "line" + i, lines.get(i)));
            producer.flush();

            Map<String, Object> readerConfig = Map.of("bootstrap.servers", BOOTSTRAP, "isolation.level", "read_committed");
            try (var reader = new KafkaConsumer<>(readerConfig, new StringDeserializer(), new LongDeserializer())) {
                var outputs = IntStream.range(0, 3).mapToObj(p -> new TopicPartition(output, p)).toList();
                reader.assign(outputs);
                reader.seekToBeginning(outputs);
                Map<String, Long> latest = new TreeMap<>();

                Process app = startApp(appId, input, output, stateDir.toString());
                long deadline = System.currentTimeMillis() + 60_000;
                while (processed(admin, appId, input) < GATE) {
                    if (!app.isAlive()) fail("the app exited (" + app.exitValue() + ") before processing the first " + GATE + " lines");
                    if (System.currentTimeMillis() > deadline) fail("the app did not process the first " + GATE + " lines within 60 s");
                    Thread.sleep(200);
                }
                // The rest at ~300 lines/s, a pace the app keeps up with. With a backlog its
                // consumer would drain fetched input lines before the repartitioned words, and the
                // counts would only show once most of the input was processed: too late to kill
                // between "some counts committed" and "not all input processed".
                AtomicReference<Exception> sendError = new AtomicReference<>();
                Thread feeder = new Thread(() -> {
                    try {
                        for (int i = GATE; i < LINES; i++) {
                            producer.send(new ProducerRecord<>(input, "line" + i, lines.get(i)), (m, e) -> { if (e != null) sendError.set(e); });
                            if (i % 10 == 0) Thread.sleep(30);
                        }
                        producer.flush();
                    } catch (InterruptedException e) {
                        sendError.set(e);
                    }
                });
                feeder.start();

                // Kill when some counts are committed, a quarter of the input is processed, and the
                // open transaction has written counts to the output that nobody may ever read.
                long done, open;
                while (true) {
                    reader.poll(Duration.ofMillis(200)).forEach(r -> latest.put(r.key(), r.value()));
                    done = processed(admin, appId, input);
                    open = uncommitted(admin, output);
                    if (!latest.isEmpty() && done >= LINES / 4 && open > 0) break;
                    if (!app.isAlive()) fail("the app exited (" + app.exitValue() + ") before the kill");
                    if (System.currentTimeMillis() > deadline) fail("no kill point within 60 s: " + done + " lines committed, " + latest.size() + " counts, " + open + " output records in an open transaction");
                }
                app.destroyForcibly(); // SIGKILL: no close, no commit, the open transaction left behind
                app.waitFor();
                if (done >= LINES) fail("the kill came too late: all " + LINES + " lines were already processed");
                System.out.println("killed the app after " + done + " of " + LINES + " lines committed, " + latest.size()
                    + " words counted, with up to " + open + " output records in its open transaction");

                app = startApp(appId, input, output, stateDir.toString());
                try {
                    // Counts only grow: a count past the histogram is final, a double count. Once
                    // every word's count equals it, keep reading 3 s to see none goes past.
                    deadline = System.currentTimeMillis() + 90_000;
                    long matchedAt = 0;
                    while (matchedAt == 0 || System.currentTimeMillis() < matchedAt + 3_000) {
                        reader.poll(Duration.ofMillis(200)).forEach(r -> latest.put(r.key(), r.value()));
                        var over = latest.entrySet().stream().filter(e -> e.getValue() > histogram.getOrDefault(e.getKey(), 0L))
                            .map(e -> e.getKey() + " got " + e.getValue() + " expected " + histogram.get(e.getKey())).toList();
                        if (!over.isEmpty()) fail("counted twice: " + over.size() + " words past the histogram: " + over.subList(0, Math.min(8, over.size())));
                        boolean match = latest.equals(histogram);
                        if (match && matchedAt == 0) matchedAt = System.currentTimeMillis();
                        if (!match && matchedAt != 0) fail("counts changed after matching the histogram: " + diff(latest, histogram));
                        if (!app.isAlive()) fail("the restarted app exited (" + app.exitValue() + ")");
                        if (matchedAt == 0 && System.currentTimeMillis() > deadline) fail("counts after the restart differ from the histogram: " + diff(latest, histogram));
                    }
                    feeder.join();
                    if (sendError.get() != null) fail("writing the input: " + sendError.get());
                    long all = processed(admin, appId, input);
                    if (all != LINES) fail("the app committed " + all + " input lines, expected " + LINES);
                } finally {
                    app.destroyForcibly();
                    app.waitFor();
                }
            }
        }
        deleteTree(stateDir);
        Files.deleteIfExists(appLog);
        System.out.println("PASS kafka-streams exactly-once: " + histogram.size() + " words, "
            + histogram.values().stream().mapToLong(Long::longValue).sum() + " counted once each across a SIGKILL");
    }

    static String diff(Map<String, Long> got, Map<String, Long> want) {
        Set<String> words = new TreeSet<>(want.keySet());
        words.addAll(got.keySet());
        List<String> wrong = words.stream().filter(w -> !Objects.equals(got.get(w), want.get(w)))
            .map(w -> w + " got " + got.get(w) + " expected " + want.get(w)).toList();
        return wrong.size() + " words wrong: " + wrong.subList(0, Math.min(8, wrong.size()));
    }

    static void deleteTree(Path dir) throws Exception {
        try (var paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
        }
    }
}
