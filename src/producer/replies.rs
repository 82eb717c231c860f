//! Request-response over Kafka (the seed's `send()`): the producer publishes with a reply
//! topic and a correlation id; the consumer answers on the reply topic; this task routes
//! each answer to the request that waits for it.
//!
//! Every producer instance reads every partition of the reply topic without a consumer
//! group, starting at the end, and keeps only the replies whose correlation id it issued,
//! so several instances each get their own replies and nobody has to "subscribe" first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::kafka::{headers, Context, Kafka};

#[derive(Default)]
pub struct Replies {
    pending: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    ready: AtomicBool,
}

impl Replies {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn register(&self, correlation_id: &str) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(correlation_id.to_string(), tx);
        rx
    }

    pub fn forget(&self, correlation_id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(correlation_id);
    }

    fn deliver(&self, correlation_id: &str, reply: Value) {
        if let Some(tx) = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(correlation_id)
        {
            let _ = tx.send(reply);
        }
    }

    /// Keeps trying to attach to the reply topic until it works, then routes replies.
    pub async fn run(
        self: Arc<Self>,
        kafka: Kafka,
        topic: String,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let consumer = loop {
            match attach(&kafka, &topic).await {
                Ok(consumer) => break consumer,
                Err(err) => {
                    tracing::warn!(%err, topic, "reply topic not ready yet; retrying");
                    tokio::select! {
                        _ = crate::shutdown::requested(&mut shutdown) => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        self.ready.store(true, Ordering::Release);
        loop {
            let message = tokio::select! {
                _ = crate::shutdown::requested(&mut shutdown) => return,
                m = consumer.recv() => m,
            };
            let Ok(message) = message else { continue };
            let correlation = message.headers().and_then(|h| {
                crate::kafka::header_list(h)
                    .into_iter()
                    .find(|h| h.name == headers::CORRELATION_ID)
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            });
            let reply = message
                .payload()
                .and_then(|p| serde_json::from_slice::<Value>(p).ok());
            if let (Some(correlation), Some(reply)) = (correlation, reply) {
                self.deliver(&correlation, reply);
            }
        }
    }
}

/// Assigns every partition of the reply topic (made at start) at its current end.
async fn attach(kafka: &Kafka, topic: &str) -> anyhow::Result<StreamConsumer<Context>> {
    let consumer: StreamConsumer<Context> = kafka.create(
        kafka
            .config("kafka-orders-replies")
            .set(
                "group.id",
                format!("kafka-orders-replies-{}", uuid::Uuid::new_v4()),
            )
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "50"),
    )?;
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(5);
        let metadata = consumer.fetch_metadata(Some(&topic), timeout)?;
        let partitions = metadata
            .topics()
            .first()
            .map(|t| t.partitions().len())
            .unwrap_or(0);
        anyhow::ensure!(partitions > 0, "topic {topic} has no partitions yet");
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions as i32 {
            // Start at the current end, read now, so no reply sent after this point is missed.
            let (_, high) = consumer.fetch_watermarks(&topic, partition, timeout)?;
            assignment.add_partition_offset(&topic, partition, Offset::Offset(high))?;
        }
        consumer.assign(&assignment)?;
        Ok(consumer)
    })
    .await?
}
