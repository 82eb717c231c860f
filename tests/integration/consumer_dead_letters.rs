//! A poison message too large for the dead-letter topic is parked as a truncated copy, and
//! its partition moves on.
//!
//! How such a message reaches the consumer, with nothing but default settings: Kafka (and the
//! built-in broker) accept a record batch up to `message.max.bytes` = 1048588 bytes, so a
//! client allowed that much (the Java client's default `max.request.size` is 1048576) can
//! write a value of about 1 MB. The consumer's dead-letter producer is librdkafka, whose own
//! `message.max.bytes` defaults to 1000000, and the dead letter adds headers: librdkafka
//! refuses the copy itself (MSG_SIZE_TOO_LARGE). No limit is changed for the test, so it
//! runs the same on a real Kafka (`KAFKA_BROKERS`) with its default limits.

use std::time::Duration;

use kafka_orders::app::Services;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::common::{eventually, header, seed_order, settings, TestApp, TestBroker};

/// Over librdkafka's default `message.max.bytes` (1000000), under Kafka's (1048588).
const OVERSIZED: usize = 1_040_000;

/// What the consumer keeps of a value too large for the DLQ (`publish::TRUNCATED_BYTES`).
const KEPT: usize = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_too_large_for_the_dlq_is_parked_truncated_and_the_partition_moves_on() {
    let broker = TestBroker::start().await;
    let mut s = settings(&broker.bootstrap(), "oversized");
    // One partition, so the valid order comes after the oversized message.
    s.kafka.partitions = 1;
    let app = TestApp::start(s.clone(), Services::All).await;
    let kafka: FutureProducer = crate::common::client_config(&app.brokers)
        .set("message.max.bytes", "1048588")
        .create()
        .expect("producer");
    let oversized = vec![b'x'; OVERSIZED];
    kafka
        .send(
            FutureRecord::<str, [u8]>::to(&s.kafka.topic)
                .key("oversized")
                .payload(&oversized),
            Duration::from_secs(10),
        )
        .await
        .expect("the topic takes the oversized message");
    let response = reqwest::Client::new()
        .post(format!("{}/orders", app.producer))
        .json(&seed_order())
        .send()
        .await
        .expect("POST /orders");
    assert!(response.status().is_success(), "{}", response.status());
    let id = response.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let stored = format!("{}/orders/{id}", app.api);
    eventually(20, || async {
        let r = reqwest::get(&stored).await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;

    let dlq = crate::common::dead_letter_reader(&app.brokers, &s);
    let parked = tokio::time::timeout(Duration::from_secs(20), dlq.recv())
        .await
        .expect("a dead letter")
        .expect("ok")
        // Owned: a message still borrowed from its consumer keeps it from closing.
        .detach();
    assert_eq!(parked.key(), Some(&b"oversized"[..]));
    assert_eq!(header(&parked, "dlq-truncated"), OVERSIZED.to_string());
    assert_eq!(parked.payload(), Some(&oversized[..KEPT]));
    assert_eq!(header(&parked, "dlq-origin-offset"), "0");
    let error = header(&parked, "dlq-error");
    assert!(error.starts_with("not JSON"), "{error}");

    // The consumer commits past both messages: the oversized one is handled for good, not
    // retried (an order after it is forwarded while it is in flight either way, so the
    // stored order alone would not show that).
    let probe: BaseConsumer = crate::common::client_config(&app.brokers)
        .set("group.id", &s.kafka.group)
        .create()
        .expect("client");
    let mut partition = TopicPartitionList::new();
    partition.add_partition(&s.kafka.topic, 0);
    eventually(20, || {
        let offset = probe
            .committed_offsets(partition.clone(), Duration::from_secs(5))
            .ok()
            .and_then(|c| c.elements().first().map(|e| e.offset()));
        async move { (offset == Some(Offset::Offset(2))).then_some(()) }
    })
    .await;
    // Test clients go first: closing one after its broker is gone waits for a timeout.
    drop((dlq, kafka, probe));
    app.stop().await;
    broker.stop().await;
}
