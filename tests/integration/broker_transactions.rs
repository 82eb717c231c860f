//! Transactions with rdkafka (librdkafka, the services' client) on every broker: an open
//! transaction holds `read_committed` consumers back and survives a broker restart (the
//! built-in broker from its `--data-dir`, real Kafka through `KAFKA_CONTROL`); a new producer
//! with the same transactional id fences the old one and aborts its transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rdkafka::{Message, TopicPartitionList};

use crate::common::{client_config, create_topic, TestBroker};

const TIMEOUT: Duration = Duration::from_secs(30);

fn transactional(
    bootstrap: &str,
    id: &str,
) -> ThreadedProducer<rdkafka::producer::DefaultProducerContext> {
    let producer: ThreadedProducer<_> = client_config(bootstrap)
        .set("transactional.id", id)
        .set("transaction.timeout.ms", "60000")
        .create()
        .expect("producer");
    producer
        .init_transactions(TIMEOUT)
        .expect("init_transactions");
    producer
}

fn send(
    producer: &ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    topic: &str,
    prefix: &str,
    n: usize,
) {
    for i in 0..n {
        let key = format!("{prefix}{i}");
        producer
            .send(BaseRecord::to(topic).key(&key).payload(&key))
            .expect("send");
    }
    producer.flush(TIMEOUT).expect("flush");
}

/// Every value a consumer with `isolation` reads from the start of the topic's 2 partitions
/// up to their end (for read_committed, the last stable offset), counted by prefix letter.
fn read_all(bootstrap: &str, topic: &str, isolation: &str) -> BTreeMap<char, usize> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for p in 0..2 {
        assignment
            .add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut counts = BTreeMap::new();
    let mut at_end = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + TIMEOUT;
    while at_end.len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "reading {topic} timed out"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let value = m.payload().expect("a value");
                *counts.entry(value[0] as char).or_insert(0) += 1;
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(err)) => panic!("consume: {err}"),
            None => {}
        }
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_transaction_survives_a_restart_and_a_new_producer_fences_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut broker = TestBroker::restartable(dir.path()).await;
    let bootstrap = broker.bootstrap();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let topic = format!("txn-{suffix}");
    let id = format!("txn-id-{suffix}");
    create_topic(&bootstrap, &topic, 2).await;

    let (b, t, i) = (bootstrap.clone(), topic.clone(), id.clone());
    let old = tokio::task::spawn_blocking(move || {
        let producer = transactional(&b, &i);
        producer.begin_transaction().expect("begin");
        send(&producer, &t, "c", 10);
        assert!(
            read_all(&b, &t, "read_committed").is_empty(),
            "open: nothing to read"
        );
        assert_eq!(read_all(&b, &t, "read_uncommitted").get(&'c'), Some(&10));
        producer
    })
    .await
    .expect("first transaction");

    broker.pause().await;
    broker.resume().await;

    let (b, t, i) = (bootstrap.clone(), topic.clone(), id.clone());
    tokio::task::spawn_blocking(move || {
        old.commit_transaction(TIMEOUT)
            .expect("the transaction opened before the restart commits after it");
        assert_eq!(
            read_all(&b, &t, "read_committed"),
            BTreeMap::from([('c', 10)])
        );

        old.begin_transaction().expect("begin");
        send(&old, &t, "a", 5);
        let new = transactional(&b, &i);
        assert!(
            old.commit_transaction(TIMEOUT).is_err(),
            "the old producer is fenced"
        );
        new.begin_transaction().expect("begin");
        send(&new, &t, "n", 3);
        new.commit_transaction(TIMEOUT).expect("commit");
        assert_eq!(
            read_all(&b, &t, "read_committed"),
            BTreeMap::from([('c', 10), ('n', 3)]),
            "the fenced producer's transaction was aborted"
        );
        assert_eq!(
            read_all(&b, &t, "read_uncommitted"),
            BTreeMap::from([('a', 5), ('c', 10), ('n', 3)])
        );
    })
    .await
    .expect("after the restart");
    broker.stop().await;
}
