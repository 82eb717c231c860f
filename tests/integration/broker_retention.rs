//! The log start moving forward. DeleteRecords through rdkafka's admin client, on both
//! brokers: the low watermark moves, earliest follows it, a consumer starting from the
//! beginning starts there; on the built-in broker, whole segment files before it leave the
//! disk and a restart keeps the log start. Time retention set by AlterConfigs on both
//! (the Kafka fixtures look for expired segments every second, not every 5 minutes);
//! size retention in small segments and the memory budget on the built-in broker.

use std::time::Duration;

use broker::BrokerConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use crate::common::{client_config, create_topic, real_kafka, TestBroker};

async fn produce(addr: &str, topic: &str, n: usize) {
    let producer: FutureProducer = client_config(addr).create().expect("producer");
    for i in 0..n {
        producer
            .send(
                FutureRecord::<(), str>::to(topic)
                    .partition(0)
                    .payload(&format!("m{i}")),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
    }
}

async fn delete_before(
    addr: &str,
    topic: &str,
    offset: Offset,
) -> rdkafka::error::KafkaResult<i64> {
    let admin: AdminClient<DefaultClientContext> = client_config(addr).create().expect("admin");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, 0, offset).expect("offset");
    let result = admin.delete_records(&list, &AdminOptions::new()).await?;
    let element = result
        .find_partition(topic, 0)
        .expect("partition in the answer");
    element.error()?;
    match element.offset() {
        Offset::Offset(low) => Ok(low),
        other => panic!("low watermark {other:?}"),
    }
}

/// (low, high) watermarks and the first message a new consumer reads from the beginning.
async fn earliest(addr: &str, topic: &str) -> ((i64, i64), Option<(i64, String)>) {
    let (addr, topic) = (addr.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = client_config(&addr)
            .set("group.id", uuid::Uuid::new_v4().to_string())
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        let marks = consumer
            .fetch_watermarks(&topic, 0, Duration::from_secs(10))
            .expect("watermarks");
        if marks.0 == marks.1 {
            return (marks, None);
        }
        let mut from_the_start = TopicPartitionList::new();
        from_the_start
            .add_partition_offset(&topic, 0, Offset::Beginning)
            .expect("offset");
        consumer.assign(&from_the_start).expect("assign");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let value = m
                    .payload_view::<str>()
                    .and_then(Result::ok)
                    .unwrap_or_default();
                return (marks, Some((m.offset(), value.to_string())));
            }
        }
        (marks, None)
    })
    .await
    .expect("consumer task")
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_records_moves_the_low_watermark_and_consumers_start_there() {
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let topic = format!("delete-records-{}", uuid::Uuid::new_v4().simple());
    create_topic(&addr, &topic, 1).await;
    produce(&addr, &topic, 10).await;
    assert_eq!(delete_before(&addr, &topic, Offset::Offset(4)).await, Ok(4));
    assert_eq!(
        earliest(&addr, &topic).await,
        ((4, 10), Some((4, "m4".to_string())))
    );
    assert_eq!(
        delete_before(&addr, &topic, Offset::Offset(2)).await,
        Ok(4),
        "never back"
    );
    let past_the_end = delete_before(&addr, &topic, Offset::Offset(11)).await;
    assert_eq!(
        past_the_end.map_err(|e| e.rdkafka_error_code()),
        Err(Some(rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange))
    );
    assert_eq!(delete_before(&addr, &topic, Offset::End).await, Ok(10));
    assert_eq!(earliest(&addr, &topic).await.0, (10, 10));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_segments_leave_the_disk_and_a_restart_keeps_the_log_start() {
    if real_kafka().is_some() {
        return; // Apache Kafka's files are its own; this is about the built-in broker's.
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = BrokerConfig {
        data_dir: Some(dir.path().to_path_buf()),
        segment_bytes: 300,
        ..BrokerConfig::ephemeral()
    };
    let mut broker = TestBroker::embedded(config).await;
    let addr = broker.bootstrap();
    create_topic(&addr, "t", 1).await;
    produce(&addr, "t", 20).await;
    let segments = || segment_files(dir.path(), "t");
    let before = segments();
    assert!(before > 3, "{before} segments");
    assert_eq!(delete_before(&addr, "t", Offset::Offset(15)).await, Ok(15));
    assert!(
        segments() < before,
        "{} of {before} segments left",
        segments()
    );
    broker.pause().await;
    broker.resume().await;
    assert_eq!(
        earliest(&addr, "t").await,
        ((15, 20), Some((15, "m15".to_string())))
    );
}

/// Segment files of partition 0 of `topic` in the broker's data directory.
fn segment_files(dir: &std::path::Path, topic: &str) -> usize {
    std::fs::read_dir(dir.join("topics").join(topic).join("0"))
        .expect("partition folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count()
}

/// The watermarks of partition 0 once at most `kept` messages are left (retention runs every
/// second); panics after 20 s.
/// Waits until at most `kept` records are left: up to 45 s, as Apache Kafka's first look
/// for expired segments comes 30 s after it started.
async fn until_at_most(addr: &str, topic: &str, kept: i64) -> (i64, i64) {
    crate::common::eventually(45, || async {
        let (low, high) = earliest(addr, topic).await.0;
        (high - low <= kept).then_some((low, high))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_bytes_and_the_memory_budget_delete_the_oldest_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = BrokerConfig {
        data_dir: Some(dir.path().to_path_buf()),
        segment_bytes: 2_000,
        max_memory_bytes: 30_000,
        ..BrokerConfig::ephemeral()
    };
    let broker = TestBroker::embedded(config).await;
    let addr = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> = client_config(&addr).create().expect("admin");
    let kept = rdkafka::admin::NewTopic::new("kept", 1, rdkafka::admin::TopicReplication::Fixed(1))
        .set("retention.bytes", "5000");
    let created = admin
        .create_topics(&[kept], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    assert!(created[0].is_ok(), "{created:?}");
    create_topic(&addr, "unbounded", 1).await;

    // About 70 bytes a message (one batch each): 200 of them are 14 KB in 2 KB segments.
    produce(&addr, "kept", 200).await;
    let (low, high) = until_at_most(&addr, "kept", 105).await;
    assert_eq!(high, 200);
    assert!(
        high - low >= 60,
        "at least 5000 bytes are kept: {low}..{high}"
    );
    assert!(
        segment_files(dir.path(), "kept") <= 5,
        "old segment files deleted"
    );

    // A topic without retention, past the 30 KB memory budget: its oldest segments go.
    produce(&addr, "unbounded", 600).await;
    // The budget, less what "kept" holds, is room for at most about 420 of them.
    let (low, high) = until_at_most(&addr, "unbounded", 450).await;
    assert_eq!(high, 600);
    let (_, first) = earliest(&addr, "unbounded").await;
    assert_eq!(
        first.map(|(offset, _)| offset),
        Some(low),
        "consumers start at the log start"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn altered_topic_configs_are_described_and_applied() {
    use rdkafka::admin::{AlterConfig, ConfigSource, ResourceSpecifier};
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let topic = format!("altered-{}", uuid::Uuid::new_v4().simple());
    create_topic(&addr, &topic, 1).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&addr).create().expect("admin");
    // AlterConfigs replaces the topic's whole set of configs.
    let change = AlterConfig::new(ResourceSpecifier::Topic(&topic))
        .set("retention.ms", "60000")
        .set("segment.bytes", "1048576");
    let altered = admin
        .alter_configs(&[change], &AdminOptions::new())
        .await
        .expect("AlterConfigs");
    assert!(altered[0].is_ok(), "{altered:?}");
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic(&topic)], &AdminOptions::new())
        .await
        .expect("DescribeConfigs");
    let resource = described[0].as_ref().expect("described");
    let entry = resource.get("retention.ms").expect("retention.ms");
    assert_eq!(entry.value.as_deref(), Some("60000"));
    assert_eq!(entry.source, ConfigSource::DynamicTopic);
    // IncrementalAlterConfigs (what kafka-configs sends), raw: a value that is not a number.
    if crate::common::wire::plaintext() {
        use kafka_protocol::messages::incremental_alter_configs_request::{
            AlterConfigsResource, AlterableConfig,
        };
        use kafka_protocol::messages::IncrementalAlterConfigsRequest;
        use kafka_protocol::protocol::StrBytes;
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_string(topic.clone()))
                .with_configs(vec![AlterableConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_config_operation(0)
                    .with_value(Some(StrBytes::from_static_str("soon")))]),
        ]);
        let answer = crate::common::wire::request(&addr, &request, 1).await;
        let refused = &answer.responses[0];
        assert_eq!(
            refused.error_code,
            kafka_protocol::ResponseError::InvalidConfig.code(),
            "{:?}",
            refused.error_message
        );
    }
    // Records stamped in 1970, 100 KB each: segments of 1 MiB roll after about ten of them,
    // and every closed one is past retention.ms at once.
    let producer: FutureProducer = client_config(&addr).create().expect("producer");
    for _ in 0..25 {
        producer
            .send(
                FutureRecord::<(), [u8]>::to(&topic)
                    .partition(0)
                    .timestamp(1_000)
                    .payload(&vec![b'x'; 100_000]),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
    }
    let (low, high) = until_at_most(&addr, &topic, 15).await;
    assert_eq!(high, 25);
    assert!(
        low >= 10,
        "closed segments past retention.ms deleted: {low}..{high}"
    );
}
