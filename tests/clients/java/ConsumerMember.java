// One group.protocol=consumer member (Java kafka-clients 4.1), driven by another program so that
// Java and librdkafka members share one KIP-848 group (tests/clients/python/consumer_protocol.py
// --with-java). It reports on stdout, one line each:
//   A <partition>              assigned (from the rebalance listener)
//   R <partition>              revoked or lost
//   M <partition> <offset> <key> <value>   a record processed
//   C <partition> <offset>     a position committed (commitSync returned)
//   N <message>                a commit refused (those records may come again)
// It leaves the group (close) when a line arrives on stdin, or stdin closes.
//   java -cp '.cache/kafka/libs/*' tests/clients/java/ConsumerMember.java BOOTSTRAP TOPIC GROUP NAME
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

public class ConsumerMember {
    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2], name = args[3];
        AtomicBoolean stop = new AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try { System.in.read(); } catch (Exception ignored) { }
            stop.set(true);
        });
        stdin.setDaemon(true);
        stdin.start();
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("group.protocol", "consumer");
        p.put("client.id", name);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "20");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsAssigned(Collection<TopicPartition> tps) {
                    tps.forEach(tp -> say("A " + tp.partition()));
                }
                public void onPartitionsRevoked(Collection<TopicPartition> tps) {
                    tps.forEach(tp -> say("R " + tp.partition()));
                }
                public void onPartitionsLost(Collection<TopicPartition> tps) {
                    onPartitionsRevoked(tps);
                }
            });
            while (!stop.get()) {
                Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    say("M " + r.partition() + " " + r.offset() + " " + r.key() + " " + r.value());
                    positions.put(new TopicPartition(topic, r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    Thread.sleep(4); // slow, so that membership changes land mid-stream
                }
                if (positions.isEmpty()) continue;
                try {
                    c.commitSync(positions);
                    positions.forEach((tp, o) -> say("C " + tp.partition() + " " + o.offset()));
                } catch (KafkaException e) {
                    say("N " + e.getClass().getSimpleName());
                }
            }
        }
    }

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
