//! The producer service (:3001): `POST /orders` publishes an order to Kafka.

mod idempotency;
mod replies;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{FutureProducer, Producer as _};
use tokio::sync::watch;

use crate::config::Settings;
use crate::kafka::{self, Context, Errors, Kafka};
use idempotency::Idempotency;
use replies::Replies;

pub use routes::router;

/// Why the producer is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("Kafka did not answer: {error}{}", .reason.as_ref().map_or_else(String::new, |r| format!(" ({r})")))]
    Kafka {
        error: rdkafka::error::KafkaError,
        reason: Option<String>,
    },
    #[error("Kafka has no partitions for topic {0}")]
    NoPartitions(String),
    #[error("the check was interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

pub struct ProducerService {
    kafka: FutureProducer<Context>,
    /// What librdkafka last complained of, for `/readyz`.
    errors: Errors,
    topic: String,
    reply_topic: String,
    replies: Arc<Replies>,
    idempotency: Idempotency,
    orders_url: String,
    reply_timeout: Duration,
    /// Longest wait for room in rdkafka's local queue (delivery itself is bounded by
    /// `message.timeout.ms`).
    publish_timeout: Duration,
}

impl ProducerService {
    /// Connects to Kafka (lazily: a broker that is down now is retried by rdkafka) and
    /// starts the reply router.
    /// Idempotency-Key answers are kept in `database` when one is given, else in memory.
    pub fn start(
        settings: &Settings,
        cluster: &Kafka,
        database: Option<&deadpool_postgres::Pool>,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Arc<Self>> {
        let kafka: FutureProducer<Context> = cluster.create(
            cluster
                .config("kafka-orders-producer")
                .set("acks", "all")
                .set("enable.idempotence", "true")
                .set("linger.ms", "2")
                .set(
                    "message.timeout.ms",
                    settings.producer.publish_timeout.as_millis().to_string(),
                ),
        )?;
        let replies = Arc::new(Replies::default());
        let reply_topic = kafka::reply_topic(&settings.kafka.topic);
        tokio::spawn(
            replies
                .clone()
                .run(cluster.clone(), reply_topic.clone(), shutdown),
        );
        Ok(Arc::new(Self {
            kafka,
            errors: cluster.errors.clone(),
            topic: settings.kafka.topic.clone(),
            reply_topic,
            replies,
            idempotency: database.map_or_else(Idempotency::memory, |pool| {
                Idempotency::postgres(pool.clone())
            }),
            orders_url: settings.orders_url(),
            reply_timeout: settings.producer.reply_timeout,
            publish_timeout: settings.producer.publish_timeout,
        }))
    }

    /// Whether Kafka answers a metadata request for the orders topic (within 2 s).
    pub async fn kafka_ready(self: Arc<Self>) -> Result<serde_json::Value, NotReady> {
        let service = self.clone();
        let topic = self.topic.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            service
                .kafka
                .client()
                .fetch_metadata(Some(&topic), Duration::from_secs(2))
        })
        .await?
        .map_err(|error| NotReady::Kafka {
            error,
            reason: self.errors.last(),
        })?;
        let partitions = metadata
            .topics()
            .first()
            .map_or(0, |t| t.partitions().len());
        if partitions == 0 {
            return Err(NotReady::NoPartitions(self.topic.clone()));
        }
        Ok(
            serde_json::json!({"kafka": "reachable", "topic": self.topic, "partitions": partitions, "brokers": metadata.brokers().len()}),
        )
    }

    /// Sends whatever is still queued (at most a few seconds).
    pub async fn flush(self: Arc<Self>) {
        let kafka = self.kafka.clone();
        let flushed =
            tokio::task::spawn_blocking(move || kafka.flush(Duration::from_secs(5))).await;
        if let Ok(Err(err)) = flushed {
            tracing::warn!(%err, "producer flush at shutdown did not complete");
        }
    }
}
