//! What the services share about talking to Kafka through rdkafka.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

/// Message headers. The correlation and reply ones are NestJS's own names, so a NestJS
/// service on the same topics understands them.
pub mod headers {
    pub const EVENT_TYPE: &str = "event-type";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const CORRELATION_ID: &str = "kafka_correlationId";
    pub const REPLY_TOPIC: &str = "kafka_replyTopic";
    pub const DLQ_ERROR: &str = "dlq-error";
    pub const DLQ_TOPIC: &str = "dlq-origin-topic";
    pub const DLQ_PARTITION: &str = "dlq-origin-partition";
    pub const DLQ_OFFSET: &str = "dlq-origin-offset";
}

pub const ORDER_CREATED: &str = "order.created";

pub fn dlq_topic(topic: &str) -> String {
    format!("{topic}.dlq")
}

pub fn reply_topic(topic: &str) -> String {
    format!("{topic}.reply")
}

pub fn client_config(brokers: &str, client_id: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    // Reconnect within a second of a broker coming back (librdkafka backs off up to 10 s),
    // so a restarted broker costs seconds of 503s, not tens.
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", client_id)
        .set("reconnect.backoff.max.ms", "1000");
    config
}

/// Creates the topic if it does not exist yet (an existing one is left as it is).
pub async fn ensure_topic(brokers: &str, name: &str, partitions: i32) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        client_config(brokers, "kafka-orders-admin").create()?;
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(10)));
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => anyhow::bail!("cannot create topic {topic}: {code}"),
        }
    }
    Ok(())
}
