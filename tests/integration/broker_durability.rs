//! `--data-dir`: a restarted broker has every acknowledged message and committed offset,
//! even after a crash left half a batch at the end of a segment.

use std::io::Write;
use std::time::Duration;

use broker::BrokerConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::common::TestBroker;

fn config(dir: &std::path::Path) -> BrokerConfig {
    BrokerConfig {
        data_dir: Some(dir.to_path_buf()),
        default_partitions: 3,
        ..BrokerConfig::ephemeral()
    }
}

async fn consume(bootstrap: &str, n: usize) -> Vec<String> {
    let consumer: StreamConsumer = crate::common::client_config(bootstrap)
        .set("group.id", "durable")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&["durable"]).expect("subscribe");
    let mut keys = Vec::new();
    while keys.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("in time")
            .expect("message");
        keys.push(String::from_utf8_lossy(msg.key().expect("key")).into_owned());
        consumer
            .commit_message(&msg, CommitMode::Sync)
            .expect("commit");
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_every_message_and_committed_offset() {
    crate::common::init_logs();
    let dir = tempfile::tempdir().expect("tempdir");
    let first = TestBroker::embedded(config(dir.path())).await;
    let producer: FutureProducer = crate::common::client_config(first.bootstrap())
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for i in 0..500 {
        let key = format!("k{i}");
        producer
            .send(
                FutureRecord::to("durable").key(&key).payload("v"),
                Duration::from_secs(10),
            )
            .await
            .expect("delivered");
    }
    drop(producer);
    let mut seen = consume(&first.bootstrap(), 200).await;
    first.stop().await;

    // A crash in the middle of a write leaves a torn batch at the end of a segment.
    let segment = dir.path().join("topics/durable/0/00000000000000000000.log");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&segment)
        .expect("segment")
        .write_all(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 1, 0, 7])
        .expect("write");

    let second = TestBroker::embedded(config(dir.path())).await;
    seen.extend(consume(&second.bootstrap(), 300).await);
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        500,
        "every message once, resumed from the committed offsets"
    );

    // Appends continue after the recovered offsets.
    let producer: FutureProducer = crate::common::client_config(second.bootstrap())
        .create()
        .expect("producer");
    let delivery = producer
        .send(
            FutureRecord::to("durable")
                .key("k0")
                .partition(0)
                .payload("again"),
            Duration::from_secs(10),
        )
        .await
        .expect("delivered");
    let (low, high) = producer
        .client()
        .fetch_watermarks("durable", 0, Duration::from_secs(5))
        .expect("watermarks");
    assert_eq!((low, delivery.offset + 1), (0, high));
    assert!(delivery.offset > 0);
    drop(producer);
    second.stop().await;
}
