//! The built-in broker when its disk fails: a write that runs out of room is cut back off
//! the segment, that partition answers KAFKA_STORAGE_ERROR from then on (what it acknowledged
//! is still served), and a restart recovers every acknowledged batch and nothing else.
//!
//! The fault is real: the broker process runs under `prlimit --fsize`, so the kernel refuses
//! (EFBIG) any write past that many bytes in a file, mid-batch included, as a full disk
//! would. SIGXFSZ, which would otherwise kill the process, is ignored by the shell that
//! execs it (an ignored signal stays ignored across exec).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::common::process::{free_port, Process};
use crate::common::{client_config, create_topic, eventually};

/// Segment bytes allowed by the limit: room for about 20 of the 10 KB messages below.
const FILE_LIMIT: u64 = 200_000;

/// `kafka-orders broker` on `listen`, keeping its data in `dir`, under a file-size limit if given.
async fn start_broker(dir: &Path, listen: &str, file_limit: Option<u64>) -> Process {
    let command = format!(
        "exec {} {} broker --listen {listen} --data-dir {}",
        file_limit.map_or(String::new(), |n| format!("prlimit --fsize={n} --")),
        env!("CARGO_BIN_EXE_kafka-orders"),
        dir.display()
    );
    let process = Process::spawn(
        Command::new("sh")
            .args(["-c", &format!("trap '' XFSZ; {command}")])
            .env("RUST_LOG", "error"),
    );
    eventually(30, || async {
        tokio::net::TcpStream::connect(listen).await.ok()
    })
    .await;
    process
}

fn producer(bootstrap: &str) -> FutureProducer {
    // No retries and no idempotence: each send gets the broker's own answer.
    client_config(bootstrap)
        .set("enable.idempotence", "false")
        .set("message.send.max.retries", "0")
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

async fn send(producer: &FutureProducer, value: &str) -> Result<i64, KafkaError> {
    producer
        .send(
            FutureRecord::<(), str>::to("t").partition(0).payload(value),
            Duration::from_secs(20),
        )
        .await
        .map(|delivered| delivered.offset)
        .map_err(|(err, _)| err)
}

/// Every message of partition 0 of "t", in order.
async fn read_all(bootstrap: &str, expected: usize) -> Vec<String> {
    let bootstrap = bootstrap.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&bootstrap)
            .set("group.id", uuid::Uuid::new_v4().to_string())
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&["t"]).expect("subscribe");
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < expected && std::time::Instant::now() < deadline {
            if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
                let value = message.payload_view::<str>().and_then(Result::ok);
                seen.push(value.unwrap_or_default().to_string());
            }
        }
        // Anything more would be a batch that was refused but stored.
        if let Some(Ok(message)) = consumer.poll(Duration::from_secs(1)) {
            seen.push(format!("unexpected message at offset {}", message.offset()));
        }
        seen
    })
    .await
    .expect("consumer task")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_write_is_cut_back_and_the_partition_answers_storage_error_until_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let listen = free_port().to_string();
    let mut broker = start_broker(dir.path(), &listen, Some(FILE_LIMIT)).await;
    create_topic(&listen, "t", 1).await;
    let producer = producer(&listen);

    let mut acknowledged = Vec::new();
    let refusal = loop {
        let value = format!("{:05}{}", acknowledged.len(), "x".repeat(10_000));
        match send(&producer, &value).await {
            Ok(offset) => {
                assert_eq!(offset, acknowledged.len() as i64, "offsets without gaps");
                acknowledged.push(value);
                assert!(acknowledged.len() < 100, "the file-size limit never bit");
            }
            Err(err) => break err,
        }
    };
    assert!(
        acknowledged.len() >= 10,
        "{} acknowledged",
        acknowledged.len()
    );
    let storage_error =
        |err: &KafkaError| err.rdkafka_error_code() == Some(RDKafkaErrorCode::KafkaStorageError);
    assert!(storage_error(&refusal), "{refusal:?}");
    // A small batch would fit under the limit again (the failed one was cut back off), but
    // the partition stays failed: what follows a failed write is never acknowledged.
    let small = send(&producer, "small")
        .await
        .expect_err("refused until restart");
    assert!(storage_error(&small), "{small:?}");
    assert_eq!(
        read_all(&listen, acknowledged.len()).await,
        acknowledged,
        "still served"
    );

    let segment_bytes = |dir: &Path| -> u64 {
        std::fs::read_dir(dir.join("broker/topics/t/0"))
            .expect("partition folder")
            .map(|e| e.expect("entry").metadata().expect("metadata").len())
            .sum()
    };
    assert!(
        segment_bytes(dir.path()) < FILE_LIMIT,
        "the partial batch was cut back off the file: {} bytes",
        segment_bytes(dir.path())
    );
    assert!(broker.terminate(), "a clean exit after a storage error");

    let _broker = start_broker(dir.path(), &listen, None).await;
    let producer = self::producer(&listen);
    let next = send(&producer, "after restart")
        .await
        .expect("takes appends again");
    assert_eq!(
        next,
        acknowledged.len() as i64,
        "right after the last acknowledged"
    );
    acknowledged.push("after restart".to_string());
    assert_eq!(read_all(&listen, acknowledged.len()).await, acknowledged);
}
