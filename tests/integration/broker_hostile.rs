//! Hostile requests get Apache Kafka's answers, and never cost what the broker already took:
//! offset metadata over `offset.metadata.max.bytes` is OFFSET_METADATA_TOO_LARGE, a batch over
//! `message.max.bytes` is MESSAGE_TOO_LARGE, and a damaged record in the committed offsets
//! file loses no commit after it. The Kafka-protocol parts run on both brokers; restarting
//! and damaging files only on the embedded one.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use crate::common::{create_topic, real_kafka, TestBroker};

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// Makes the topic, with one message in partition 0.
async fn produce_one(bootstrap: &str, topic: &str) {
    create_topic(bootstrap, topic, 1).await;
    let producer: FutureProducer = crate::common::client_config(bootstrap)
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::<str, str>::to(topic)
                .partition(0)
                .payload("x"),
            Duration::from_secs(30),
        )
        .await
        .expect("delivered");
}

/// Commits `offset` (with `metadata`) for partition 0 of `topic` as `group`, outside any
/// group membership, as a consumer with a manual assignment does.
async fn commit(
    bootstrap: &str,
    group: &str,
    topic: &str,
    offset: i64,
    metadata: &str,
) -> KafkaResult<()> {
    let (bootstrap, group, topic, metadata) = (
        bootstrap.to_string(),
        group.to_string(),
        topic.to_string(),
        metadata.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = crate::common::client_config(&bootstrap)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&topic, 0, Offset::Offset(offset))
            .expect("offset");
        list.find_partition(&topic, 0)
            .expect("partition")
            .set_metadata(metadata);
        // A new consumer may not have found its group coordinator yet: that answer is retried.
        let mut result = consumer.commit(&list, CommitMode::Sync);
        for _ in 0..5 {
            let transient = matches!(
                result,
                Err(KafkaError::ConsumerCommit(
                    RDKafkaErrorCode::BrokerTransportFailure
                        | RDKafkaErrorCode::CoordinatorNotAvailable
                        | RDKafkaErrorCode::NotCoordinator
                ))
            );
            if !transient {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
            result = consumer.commit(&list, CommitMode::Sync);
        }
        result
    })
    .await
    .expect("commit task")
}

/// The offset `group` has committed for partition 0 of `topic`, if any.
async fn committed(bootstrap: &str, group: &str, topic: &str) -> Option<i64> {
    let (bootstrap, group, topic) = (bootstrap.to_string(), group.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = crate::common::client_config(&bootstrap)
            .set("group.id", &group)
            .create()
            .expect("consumer");
        let mut list = TopicPartitionList::new();
        list.add_partition(&topic, 0);
        let list = consumer
            .committed_offsets(list, Duration::from_secs(30))
            .expect("OffsetFetch");
        match list.find_partition(&topic, 0).expect("partition").offset() {
            Offset::Offset(o) => Some(o),
            _ => None,
        }
    })
    .await
    .expect("committed task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_offset_metadata_is_refused_and_costs_no_other_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::restartable(dir.path()).await;
    let bootstrap = broker.bootstrap();
    let topic = unique("hostile-meta");
    let (a, b) = (unique("group-a"), unique("group-b"));
    produce_one(&bootstrap, &topic).await;

    commit(&bootstrap, &a, &topic, 5, "fine")
        .await
        .expect("A commits 5");
    // 8 KB: over Kafka's 4096, under the 32767 its protocol strings can hold (Apache Kafka
    // closes the connection on a longer one as a malformed request; see the README).
    let refused = commit(&bootstrap, &b, &topic, 3, &"m".repeat(8 * 1024)).await;
    assert_eq!(
        refused.expect_err("8 KB of metadata is refused"),
        KafkaError::ConsumerCommit(RDKafkaErrorCode::OffsetMetadataTooLarge)
    );
    assert_eq!(
        committed(&bootstrap, &b, &topic).await,
        None,
        "nothing stored"
    );
    commit(&bootstrap, &b, &topic, 3, &"m".repeat(4096))
        .await
        .expect("4096 bytes of metadata are within the limit");
    commit(&bootstrap, &a, &topic, 7, "fine")
        .await
        .expect("A commits 7");
    assert_eq!(committed(&bootstrap, &a, &topic).await, Some(7));

    if real_kafka().is_none() {
        broker.pause().await;
        broker.resume().await;
        assert_eq!(
            committed(&bootstrap, &a, &topic).await,
            Some(7),
            "A's last commit survived the restart"
        );
        assert_eq!(committed(&bootstrap, &b, &topic).await, Some(3));
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_message_max_bytes_is_refused_and_producers_carry_on() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = unique("hostile-size");
    create_topic(&bootstrap, &topic, 1).await;
    let big: FutureProducer = crate::common::client_config(&bootstrap)
        // The client's own limit, raised so that it sends what the broker must refuse.
        .set("message.max.bytes", "10000000")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let normal: FutureProducer = crate::common::client_config(&bootstrap)
        .create()
        .expect("producer");
    let send = |producer: &FutureProducer, payload: Vec<u8>| {
        let (producer, topic) = (producer.clone(), topic.clone());
        async move {
            producer
                .send(
                    FutureRecord::<str, [u8]>::to(&topic)
                        .partition(0)
                        .payload(&payload),
                    Duration::from_secs(30),
                )
                .await
        }
    };
    let first = send(&normal, b"before".to_vec()).await.expect("delivered");

    let refused = send(&big, vec![b'x'; 2 * 1024 * 1024]).await;
    let (err, _) = refused.expect_err("a 2 MB batch is refused");
    assert_eq!(
        err,
        KafkaError::MessageProduction(RDKafkaErrorCode::MessageSizeTooLarge)
    );

    let after = send(&normal, b"after".to_vec()).await.expect("delivered");
    assert_eq!(after.offset, first.offset + 1, "nothing stored in between");
    send(&big, b"small".to_vec())
        .await
        .expect("the same producer carries on with a normal message");
    broker.stop().await;
}

/// A record in the middle of the committed offsets file whose checksum passes but which does
/// not decode (garbage, or a format from a newer broker) is skipped: the commits after it are
/// recovered. Embedded only: it edits the broker's files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_record_in_the_offsets_log_loses_no_later_commit() {
    // Always the built-in broker (its own file), whichever Kafka the other tests run on.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::embedded_in(dir.path()).await;
    let bootstrap = broker.bootstrap();
    let topic = "hostile-log";
    produce_one(&bootstrap, topic).await;
    commit(&bootstrap, "a", topic, 5, "").await.expect("commit");
    commit(&bootstrap, "b", topic, 8, "").await.expect("commit");
    commit(&bootstrap, "c", topic, 9, "").await.expect("commit");
    broker.pause().await;

    // Records are `len u32 | crc32c u32 | payload`: put a checksummed record that is not an
    // offsets record right after the first one.
    let path = dir.path().join("consumer-offsets.log");
    let bytes = std::fs::read(&path).expect("offsets log");
    let first = 8 + u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    let payload = b"\xFF\xFE garbage that a checksum cannot tell from a record";
    let mut garbage = (payload.len() as u32).to_be_bytes().to_vec();
    garbage.extend_from_slice(&crc32c::crc32c(payload).to_be_bytes());
    garbage.extend_from_slice(payload);
    std::fs::write(&path, [&bytes[..first], &garbage, &bytes[first..]].concat()).expect("write");

    broker.resume().await;
    for (group, offset) in [("a", 5), ("b", 8), ("c", 9)] {
        assert_eq!(
            committed(&bootstrap, group, topic).await,
            Some(offset),
            "group {group}"
        );
    }
    // What was learned after the restart is kept too.
    commit(&bootstrap, "b", topic, 10, "")
        .await
        .expect("commit");
    broker.pause().await;
    broker.resume().await;
    assert_eq!(committed(&bootstrap, "b", topic).await, Some(10));
    assert_eq!(committed(&bootstrap, "c", topic).await, Some(9));
    broker.stop().await;
}
