// The compatibility scenario (see ../README.md) with the Java kafka-clients 4.1, all defaults
// (idempotent producer on). Run as a single-file program on the jars fixtures/kafka assembles:
//   java -cp '.cache/kafka/libs/*' tests/clients/java/Compat.java
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.*;

public class Compat {
    static final String BOOTSTRAP = System.getenv("BOOTSTRAP");
    static final String TOPIC = "compat-java-" + UUID.randomUUID().toString().substring(0, 8);

    static void fail(String message) {
        System.out.println("FAIL java kafka-clients: " + message);
        System.exit(1);
    }

    // byPattern: subscribes to a pattern that also matches __consumer_offsets, which the
    // consumer must skip as an internal topic (exclude.internal.topics, on by default).
    static void consume(int count, Set<String> seen, boolean byPattern) {
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        p.put("group.id", "g-" + TOPIC);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "50");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            if (byPattern) c.subscribe(Pattern.compile("__consumer_offsets|" + TOPIC));
            else c.subscribe(List.of(TOPIC));
            Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
            long deadline = System.currentTimeMillis() + 60_000;
            int got = 0;
            while (got < count) {
                if (System.currentTimeMillis() > deadline) fail("timed out after " + got + " of " + count);
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    if (got == count) break;
                    String n = r.key().substring(1);
                    Header h = r.headers().lastHeader("n");
                    String header = h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
                    if (!r.value().equals("v" + n) || !n.equals(header)) fail("message " + r.key() + " has value " + r.value() + " header " + header);
                    if (!seen.add(r.key())) fail(r.key() + " delivered twice");
                    positions.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    got++;
                }
            }
            c.commitSync(positions);
            for (TopicPartition tp : c.assignment()) {
                if (!tp.topic().equals(TOPIC)) fail("assigned " + tp + " by the pattern");
            }
        }
    }

    public static void main(String[] args) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            admin.createTopics(List.of(new NewTopic(TOPIC, 3, (short) 1))).all().get();
        }
        Properties p = new Properties();
        p.put("bootstrap.servers", BOOTSTRAP);
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(TOPIC, "k" + i, "v" + i);
                r.headers().add("n", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            for (var f : sent) f.get();
        }
        Set<String> seen = new HashSet<>();
        consume(600, seen, false);
        consume(400, seen, true);
        if (seen.size() != 1000) fail(seen.size() + " distinct messages instead of 1000");
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", BOOTSTRAP))) {
            var all = admin.listTopics(new ListTopicsOptions().listInternal(true)).namesToListings().get();
            TopicListing offsets = all.get("__consumer_offsets");
            if (offsets == null || !offsets.isInternal()) fail("__consumer_offsets not listed as internal: " + offsets);
            if (admin.listTopics().names().get().contains("__consumer_offsets")) fail("__consumer_offsets listed among ordinary topics");
        }
        System.out.println("PASS java kafka-clients");
    }
}
