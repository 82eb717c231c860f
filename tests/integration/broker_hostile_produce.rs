//! Produce and CreateTopics requests that ask for too much or lie in their headers, sent as raw
//! frames (no well-behaved client sends them), while a real client keeps working:
//! - a batch whose lastOffsetDelta does not match its record count: INVALID_RECORD, as
//!   Kafka's LogValidator answers, and nothing stored;
//! - a producer id the broker never issued: UNKNOWN_PRODUCER_ID on the built-in broker;
//!   Apache Kafka accepts any id from an idempotent producer (the test checks that too);
//! - more than 10,000 partitions in one CreateTopics: POLICY_VIOLATION (KAFKA-17870), and on
//!   the built-in broker, topics past its `max_partitions`: POLICY_VIOLATION.
//! - a topic's own `max.message.bytes`: MESSAGE_TOO_LARGE past it, INVALID_CONFIG when it is
//!   not a number, and DescribeConfigs reports it as set on the topic.

use std::time::Duration;

use broker::BrokerConfig;
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use kafka_protocol::ResponseError;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::common::wire::{plaintext, request};
use crate::common::{client_config, create_topic, real_kafka, TestBroker};

fn unique(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

/// A batch of `count` records from `producer_id` (-1: not idempotent), as a client encodes it.
fn batch(producer_id: i64, count: i32) -> BytesMut {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id,
            producer_epoch: if producer_id < 0 { -1 } else { 0 },
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: if producer_id < 0 { -1 } else { i },
            timestamp: 1_000,
            key: None,
            value: Some(Bytes::from_static(b"hostile")),
            headers: Default::default(),
        })
        .collect();
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut out, records.iter(), &options).expect("encode");
    out
}

/// Sets lastOffsetDelta (bytes 23..27) and the CRC-32C over bytes 21.. that covers it.
fn with_last_offset_delta(mut batch: BytesMut, delta: i32) -> Bytes {
    batch[23..27].copy_from_slice(&delta.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch.freeze()
}

/// Produces `records` to partition 0 of `topic` (v9, acks=all); the partition's error code.
async fn produce_raw(addr: &str, topic: &str, records: Bytes) -> i16 {
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let answer = request(addr, &produce, 9).await;
    answer.responses[0].partition_responses[0].error_code
}

/// A well-behaved idempotent producer still gets its message stored at `offset`.
async fn real_client_delivers(addr: &str, topic: &str, offset: i64) {
    let producer: FutureProducer = client_config(addr)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let delivered = producer
        .send(
            FutureRecord::<(), str>::to(topic)
                .partition(0)
                .payload("fine"),
            Duration::from_secs(30),
        )
        .await
        .expect("delivered");
    assert_eq!(
        delivered.offset, offset,
        "nothing of the hostile batches was stored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_that_lie_are_refused_and_a_real_producer_is_unharmed() {
    if !plaintext() {
        return;
    }
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let topic = unique("hostile-produce");
    create_topic(&addr, &topic, 1).await;

    // One record that claims six offsets.
    let lying = with_last_offset_delta(batch(-1, 1), 5);
    assert_eq!(
        produce_raw(&addr, &topic, lying).await,
        ResponseError::InvalidRecord.code()
    );
    // An honest batch, but from a producer id nobody issued.
    let made_up = produce_raw(&addr, &topic, batch(4_242_424_242, 1).freeze()).await;
    if real_kafka().is_some() {
        assert_eq!(
            made_up, 0,
            "Apache Kafka takes any id from an idempotent producer"
        );
        real_client_delivers(&addr, &topic, 1).await;
    } else {
        assert_eq!(made_up, ResponseError::UnknownProducerId.code());
        let huge = produce_raw(&addr, &topic, batch(i64::MAX, 1).freeze()).await;
        assert_eq!(huge, ResponseError::UnknownProducerId.code());
        real_client_delivers(&addr, &topic, 0).await;
    }
}

async fn create(addr: &str, topic: &str, partitions: i32) -> Result<(), RDKafkaErrorCode> {
    let admin: AdminClient<DefaultClientContext> = client_config(addr).create().expect("admin");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(-1));
    let results = admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    results[0].clone().map(drop).map_err(|(_, code)| code)
}

#[tokio::test(flavor = "multi_thread")]
async fn more_than_ten_thousand_partitions_in_one_request_are_refused() {
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    assert_eq!(
        create(&addr, &unique("too-many"), 10_001).await,
        Err(RDKafkaErrorCode::PolicyViolation)
    );
    create_topic(&addr, &unique("after"), 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn topics_past_the_brokers_partition_limit_are_refused_until_one_is_deleted() {
    let broker = TestBroker::embedded(BrokerConfig {
        max_partitions: 5,
        ..BrokerConfig::ephemeral()
    })
    .await;
    let addr = broker.bootstrap();
    create_topic(&addr, "first", 3).await;
    assert_eq!(
        create(&addr, "second", 3).await,
        Err(RDKafkaErrorCode::PolicyViolation)
    );
    create_topic(&addr, "small", 2).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&addr).create().expect("admin");
    admin
        .delete_topics(&["first"], &AdminOptions::new())
        .await
        .expect("DeleteTopics");
    create_topic(&addr, "second", 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topics_max_message_bytes_is_its_limit_and_described() {
    use rdkafka::admin::{ConfigSource, ResourceSpecifier};
    let broker = TestBroker::start().await;
    let addr = broker.bootstrap();
    let topic = unique("small-messages");
    let admin: AdminClient<DefaultClientContext> = client_config(&addr).create().expect("admin");
    let new =
        NewTopic::new(&topic, 1, TopicReplication::Fixed(-1)).set("max.message.bytes", "2000");
    let created = admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    assert!(created[0].is_ok(), "{created:?}");
    let bad_name = unique("bad-config");
    let bad =
        NewTopic::new(&bad_name, 1, TopicReplication::Fixed(-1)).set("max.message.bytes", "lots");
    let refused = admin
        .create_topics(&[bad], &AdminOptions::new())
        .await
        .expect("CreateTopics");
    assert!(
        matches!(&refused[0], Err((_, RDKafkaErrorCode::InvalidConfig))),
        "{refused:?}"
    );

    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic(&topic)], &AdminOptions::new())
        .await
        .expect("DescribeConfigs");
    let resource = described[0].as_ref().expect("described");
    let entry = resource
        .get("max.message.bytes")
        .expect("max.message.bytes");
    assert_eq!(entry.value.as_deref(), Some("2000"));
    assert_eq!(entry.source, ConfigSource::DynamicTopic);

    let producer: FutureProducer = client_config(&addr).create().expect("producer");
    let send = |size: usize| {
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            producer
                .send(
                    FutureRecord::<(), [u8]>::to(&topic)
                        .partition(0)
                        .payload(&vec![b'x'; size]),
                    Duration::from_secs(30),
                )
                .await
                .map(|delivered| delivered.offset)
                .map_err(|(err, _)| err.rdkafka_error_code())
        }
    };
    assert_eq!(
        send(3_000).await,
        Err(Some(RDKafkaErrorCode::MessageSizeTooLarge))
    );
    assert_eq!(
        send(1_000).await,
        Ok(0),
        "a message that fits is stored first"
    );
}
