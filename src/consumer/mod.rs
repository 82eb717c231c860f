//! The consumer: a member of the `orders-consumer` group that forwards each order to the
//! Orders API, at least once.
//!
//! Up to [`IN_FLIGHT`] orders are forwarded at once, and their outcomes are taken in the order
//! the messages arrived, so offsets are still stored in order: an offset is stored for commit
//! only after the order and every one before it are handled for good (stored by the API, or
//! parked on the dead-letter topic). When the API is down, the partition is paused and rewound
//! to the order that failed, then resumed after a backoff; outcomes of later orders of that
//! partition still in flight are dropped, as those orders come again (the API's idempotent
//! ingest stores each once). The consumer keeps polling, so it stays in its group while it waits.

mod forward;
mod observe;
mod publish;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Settings;
use crate::kafka;
use crate::order::Order;
use forward::{Forwarded, OrdersApi};
use observe::Observed;
pub use observe::{router, ConsumerState};

/// Orders forwarded to the Orders API at the same time.
const IN_FLIGHT: usize = 64;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

enum Step {
    Done,
    Retry(String),
}

struct Paused {
    attempts: u32,
    resume_at: Option<Instant>,
    /// Set while outcomes of later orders of this partition must be dropped (they come again).
    rewound_to: Option<i64>,
}

struct Worker {
    consumer: StreamConsumer<Observed>,
    producer: FutureProducer,
    api: OrdersApi,
    dlq: String,
}

pub async fn run(
    settings: Settings,
    brokers: String,
    state: Arc<ConsumerState>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let consumer: StreamConsumer<Observed> =
        kafka::client_config(&brokers, "kafka-orders-consumer")
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("fetch.wait.max.ms", "100")
            .set("statistics.interval.ms", "5000")
            .create_with_context(Observed(state))?;
    consumer.subscribe(&[&settings.topic])?;
    let producer: FutureProducer = kafka::client_config(&brokers, "kafka-orders-consumer-dlq")
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()?;
    let worker = Worker {
        consumer,
        producer,
        api: OrdersApi::new(settings.orders_url())?,
        dlq: kafka::dlq_topic(&settings.topic),
    };
    let mut paused: HashMap<i32, Paused> = HashMap::new();
    let mut in_flight = FuturesOrdered::new();
    tracing::info!(
        topic = settings.topic,
        group = settings.group,
        api = settings.orders_url(),
        "consumer started"
    );
    loop {
        let next_resume = paused.values().filter_map(|p| p.resume_at).min();
        tokio::select! {
            _ = crate::shutdown::requested(&mut shutdown) => break,
            _ = tokio::time::sleep_until(next_resume.unwrap_or_else(Instant::now)), if next_resume.is_some() => worker.resume_due(&mut paused),
            Some((message, step)) = in_flight.next(), if !in_flight.is_empty() => worker.after(&message, step, &mut paused),
            message = worker.consumer.recv(), if in_flight.len() < IN_FLIGHT => match message {
                Ok(message) => {
                    let message = message.detach();
                    if let Some(p) = paused.get_mut(&message.partition()) {
                        // The order the partition was rewound to is back: its outcome counts again.
                        if p.rewound_to.is_some_and(|o| o == message.offset()) {
                            p.rewound_to = None;
                        }
                    }
                    let worker = &worker;
                    in_flight.push_back(async move {
                        let step = worker.handle(&message).await;
                        (message, step)
                    });
                }
                Err(err) => tracing::warn!(%err, "consumer error"),
            },
        }
    }
    // Orders already sent to the API still get their outcome (and their offset) before the commit.
    while let Some((message, step)) = in_flight.next().await {
        worker.after(&message, step, &mut paused);
    }
    drop(in_flight);
    // Commit what was processed, then leave the group (librdkafka does both on close).
    let consumer = worker.consumer;
    tokio::task::spawn_blocking(move || {
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(%err, "final commit had nothing to do");
        }
        consumer.unsubscribe();
        drop(consumer);
    })
    .await?;
    tracing::info!("consumer stopped");
    Ok(())
}

fn parse(payload: Option<&[u8]>) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(payload.unwrap_or_default())
        .map_err(|e| format!("not JSON: {e}"))?;
    Order::from_json(&value).map_err(|errors| {
        let fields: Vec<String> = errors
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect();
        format!("not a valid order: {}", fields.join("; "))
    })?;
    Ok(value)
}

impl Worker {
    async fn handle(&self, message: &OwnedMessage) -> Step {
        let (partition, offset) = (message.partition(), message.offset());
        let order = match parse(message.payload()) {
            Ok(order) => order,
            Err(error) => return self.dead_letter(message, error).await,
        };
        match self.api.forward(&order).await {
            Forwarded::Stored(status, stored) => {
                publish::reply(
                    &self.producer,
                    message,
                    &json!({"status": status.as_u16(), "order": stored}),
                )
                .await;
                metrics::counter!("orders_consumed_total", "outcome" => if status.as_u16() == 201 { "stored" } else { "duplicate" }).increment(1);
                tracing::info!(
                    order_id = order["id"].as_str().unwrap_or_default(),
                    user_id = order["userId"].as_str().unwrap_or_default(),
                    total = %order["totalAmount"],
                    partition,
                    offset,
                    outcome = if status.as_u16() == 201 { "stored" } else { "already stored" },
                    "order processed"
                );
                Step::Done
            }
            Forwarded::Deleted => {
                metrics::counter!("orders_consumed_total", "outcome" => "deleted").increment(1);
                tracing::info!(
                    order_id = order["id"].as_str().unwrap_or_default(),
                    partition,
                    offset,
                    "order was deleted since it was stored; not stored again"
                );
                Step::Done
            }
            Forwarded::Refused(error) => self.dead_letter(message, error).await,
            Forwarded::Retry(error) => Step::Retry(error),
        }
    }

    async fn dead_letter(&self, message: &OwnedMessage, error: String) -> Step {
        if let Err(err) = publish::dead_letter(&self.producer, &self.dlq, message, &error).await {
            return Step::Retry(format!("could not write to {}: {err}", self.dlq));
        }
        metrics::counter!("orders_dead_lettered_total").increment(1);
        tracing::warn!(partition = message.partition(), offset = message.offset(), dlq = self.dlq, %error, "order sent to the dead-letter topic");
        publish::reply(
            &self.producer,
            message,
            &json!({"status": 422, "error": error}),
        )
        .await;
        Step::Done
    }

    fn after(&self, message: &OwnedMessage, step: Step, paused: &mut HashMap<i32, Paused>) {
        let (partition, offset) = (message.partition(), message.offset());
        if paused
            .get(&partition)
            .and_then(|p| p.rewound_to)
            .is_some_and(|o| offset > o)
        {
            return;
        }
        match step {
            Step::Done => {
                paused.remove(&partition);
                if let Err(err) = self
                    .consumer
                    .store_offset(message.topic(), partition, offset)
                {
                    tracing::warn!(%err, partition, "could not store the offset for commit");
                }
            }
            Step::Retry(error) => {
                metrics::counter!("orders_retried_total").increment(1);
                let state = paused.entry(partition).or_insert(Paused {
                    attempts: 0,
                    resume_at: None,
                    rewound_to: None,
                });
                state.rewound_to = Some(offset);
                state.attempts += 1;
                let backoff = FIRST_BACKOFF
                    .saturating_mul(2u32.saturating_pow(state.attempts - 1))
                    .min(MAX_BACKOFF);
                state.resume_at = Some(Instant::now() + backoff);
                tracing::warn!(partition, offset = message.offset(), attempt = state.attempts, retry_in_ms = backoff.as_millis() as u64, %error, "will retry");
                let tpl = one_partition(message.topic(), partition);
                if let Err(err) = self.consumer.pause(&tpl) {
                    tracing::warn!(%err, "could not pause the partition");
                }
                if let Err(err) = self.consumer.seek(
                    message.topic(),
                    partition,
                    Offset::Offset(message.offset()),
                    Duration::from_secs(1),
                ) {
                    tracing::warn!(%err, "could not rewind the partition");
                }
            }
        }
    }

    fn resume_due(&self, paused: &mut HashMap<i32, Paused>) {
        let now = Instant::now();
        let topics: Vec<String> = self
            .consumer
            .subscription()
            .map(|s| s.elements().iter().map(|e| e.topic().to_string()).collect())
            .unwrap_or_default();
        for (partition, state) in paused
            .iter_mut()
            .filter(|(_, p)| p.resume_at.is_some_and(|at| at <= now))
        {
            state.resume_at = None;
            for topic in &topics {
                if let Err(err) = self.consumer.resume(&one_partition(topic, *partition)) {
                    tracing::warn!(%err, "could not resume the partition");
                }
            }
        }
    }
}

fn one_partition(topic: &str, partition: i32) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, partition);
    tpl
}
