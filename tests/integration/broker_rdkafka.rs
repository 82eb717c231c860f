//! The embedded broker, driven by rdkafka (librdkafka): the same client the services use.

use std::time::Duration;

use broker::BrokerConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::common::{eventually, TestBroker};

fn producer(bootstrap: &str) -> FutureProducer {
    crate::common::client_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer")
}

fn consumer(bootstrap: &str, group: &str) -> StreamConsumer {
    let mut config = crate::common::group_config(bootstrap, group);
    if let Ok(debug) = std::env::var("RDKAFKA_DEBUG") {
        config.set("debug", debug);
    }
    config.create().expect("consumer")
}

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = crate::common::client_config(bootstrap)
        .create()
        .expect("admin");
    let result = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(-1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create_topics");
    assert!(result[0].is_ok(), "{result:?}");
    let again = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(-1))],
            &AdminOptions::new(),
        )
        .await
        .expect("create_topics");
    assert_eq!(
        again[0].as_ref().expect_err("it exists").1,
        RDKafkaErrorCode::TopicAlreadyExists
    );
}

/// Receives `n` messages, committing after each; returns (key, value, header) triples.
async fn receive(consumer: &StreamConsumer, n: usize) -> Vec<(String, String, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("message within 30 s")
            .expect("no consumer error");
        let key = String::from_utf8(msg.key().expect("key").to_vec()).expect("utf8");
        let value = String::from_utf8(msg.payload().expect("value").to_vec()).expect("utf8");
        let header = msg.headers().and_then(|h| h.iter().next()).map(|h| {
            format!(
                "{}={}",
                h.key,
                String::from_utf8_lossy(h.value.unwrap_or_default())
            )
        });
        got.push((key, value, header.unwrap_or_default()));
        consumer
            .commit_message(&msg, CommitMode::Sync)
            .expect("commit");
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_keys_and_headers_across_partitions_then_resume_from_commit() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    // Unique names: a real Kafka keeps topics and groups from earlier runs.
    let topic = format!("t-keys-{}", uuid::Uuid::new_v4().simple());
    let group = format!("g-{topic}");
    create_topic(&bootstrap, &topic, 3).await;
    let producer = producer(&bootstrap);
    for i in 0..60 {
        let headers = OwnedHeaders::new().insert(Header {
            key: "n",
            value: Some(&i.to_string()),
        });
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        let record = FutureRecord::to(&topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        let delivery = producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("delivered");
        assert!((0..3).contains(&delivery.partition));
    }

    let first = consumer(&bootstrap, &group);
    first.subscribe(&[&topic]).expect("subscribe");
    let got = receive(&first, 40).await;
    for (key, value, header) in &got {
        let n = &key[1..];
        assert_eq!(value, &format!("v{n}"));
        assert_eq!(header, &format!("n={n}"));
    }
    drop(first);

    // A new consumer in the same group resumes after the committed offsets: it gets the
    // remaining 20 and nothing twice.
    let second = consumer(&bootstrap, &group);
    second.subscribe(&[&topic]).expect("subscribe");
    let rest = receive(&second, 20).await;
    let mut keys: Vec<String> = got
        .iter()
        .chain(rest.iter())
        .map(|(k, _, _)| k.clone())
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        keys.len(),
        60,
        "every message exactly once across both consumers"
    );
    drop((second, producer));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_batches_pass_through_untouched() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = format!("t-codecs-{}", uuid::Uuid::new_v4().simple());
    create_topic(&bootstrap, &topic, 1).await;
    let codecs = ["gzip", "snappy", "lz4", "zstd", "none"];
    for codec in codecs {
        let producer: FutureProducer = crate::common::client_config(&bootstrap)
            .set("compression.codec", codec)
            .set("linger.ms", "20")
            .create()
            .expect("producer");
        let sends: Vec<_> = (0..50)
            .map(|i| {
                let (key, value) = (
                    format!("{codec}-{i}"),
                    format!("{codec} payload {i} ").repeat(20),
                );
                let producer = producer.clone();
                let topic = topic.clone();
                async move {
                    let headers = OwnedHeaders::new().insert(Header {
                        key: "n",
                        value: Some(&i.to_string()),
                    });
                    producer
                        .send(
                            FutureRecord::to(&topic)
                                .key(&key)
                                .payload(&value)
                                .headers(headers),
                            Duration::from_secs(10),
                        )
                        .await
                }
            })
            .collect();
        for sent in futures::future::join_all(sends).await {
            sent.expect("delivered");
        }
    }
    let consumer = consumer(&bootstrap, &format!("g-{topic}"));
    consumer.subscribe(&[&topic]).expect("subscribe");
    let got = receive(&consumer, 50 * codecs.len()).await;
    for (key, value, header) in &got {
        let (codec, n) = key.rsplit_once('-').expect("codec-n");
        assert_eq!(value, &format!("{codec} payload {n} ").repeat(20));
        assert_eq!(header, &format!("n={n}"));
    }
    drop(consumer);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_and_acks_one_messages_are_stored() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    let topic = format!("t-acks-{}", uuid::Uuid::new_v4().simple());
    create_topic(&bootstrap, &topic, 1).await;
    for acks in ["0", "1"] {
        let producer: FutureProducer = crate::common::client_config(&bootstrap)
            .set("acks", acks)
            .create()
            .expect("producer");
        for i in 0..20 {
            let (key, value) = (format!("acks{acks}-{i}"), format!("v{i}"));
            let headers = OwnedHeaders::new().insert(Header {
                key: "n",
                value: Some(&i.to_string()),
            });
            producer
                .send(
                    FutureRecord::to(&topic)
                        .key(&key)
                        .payload(&value)
                        .headers(headers),
                    Duration::from_secs(10),
                )
                .await
                .expect("sent");
        }
    }
    let consumer = consumer(&bootstrap, &format!("g-{topic}"));
    consumer.subscribe(&[&topic]).expect("subscribe");
    let got = receive(&consumer, 40).await;
    assert_eq!(
        got.iter()
            .filter(|(k, _, _)| k.starts_with("acks0-"))
            .count(),
        20,
        "acks=0 is fire and forget, but stored"
    );
    drop(consumer);
    broker.stop().await;
}

/// An Empty group's committed offsets expire after the offsets retention, as on Kafka after
/// `offsets.retention.minutes`: the group is gone and its next consumer starts from
/// `auto.offset.reset` again. Always the built-in broker: Kafka's retention is a minute at least.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_groups_offsets_expire_after_the_retention() {
    let config = BrokerConfig {
        offsets_retention: Duration::from_millis(500),
        ..BrokerConfig::ephemeral()
    };
    let broker = TestBroker::embedded(config).await;
    let bootstrap = broker.bootstrap();
    let (topic, group) = ("t-retention", "g-retention");
    create_topic(&bootstrap, topic, 1).await;
    let producer = producer(&bootstrap);
    for i in 0..3 {
        let (key, value) = (format!("k{i}"), format!("v{i}"));
        producer
            .send(
                FutureRecord::to(topic).key(&key).payload(&value),
                Duration::from_secs(10),
            )
            .await
            .expect("delivered");
    }
    let first = consumer(&bootstrap, group);
    first.subscribe(&[topic]).expect("subscribe");
    let got = receive(&first, 3).await;
    drop(first);

    let probe: BaseConsumer = crate::common::client_config(&bootstrap)
        .create()
        .expect("client");
    eventually(20, || {
        let list = probe.fetch_group_list(Some(group), Duration::from_secs(5));
        async move {
            let list = list.ok()?;
            let gone = list.groups().first().is_none_or(|g| g.state() == "Dead");
            gone.then_some(())
        }
    })
    .await;
    let second = consumer(&bootstrap, group);
    second.subscribe(&[topic]).expect("subscribe");
    assert_eq!(
        receive(&second, 3).await,
        got,
        "from the start again: the committed offsets expired"
    );
    drop((second, producer));
    broker.stop().await;
}
