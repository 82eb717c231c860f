//! The consumer: a member of the `orders-consumer` group that forwards each order to the
//! Orders API, at least once.
//!
//! Up to [`IN_FLIGHT`] orders are forwarded at once, and their outcomes are taken in the order
//! the messages arrived, so offsets are still stored in order: an offset is stored for commit
//! only after the order and every one before it are handled for good (stored by the API, or
//! parked on the dead-letter topic). When the API is down, the partition is paused and rewound
//! to the order that failed, then resumed after a backoff ([`rewind`]). The consumer keeps
//! polling, so it stays in its group while it waits.

mod forward;
mod observe;
mod publish;
mod rewind;

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesOrdered, StreamExt};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::FutureProducer;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Settings;
use crate::kafka::{self, Context, Kafka};
use crate::order::{FieldError, Order};
use forward::{ApiError, Forwarded, OrdersApi};
use observe::Observed;
pub use observe::{router, ConsumerState};
use publish::Keep;
use rewind::{Action, Rewinds};

/// Orders forwarded to the Orders API at the same time.
const IN_FLIGHT: usize = 64;
/// How long the stop waits for the final commit and the goodbye to the group.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Why a message is refused for good and parked on the dead-letter topic.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("not a valid order: {}", fields(.0))]
    NotAnOrder(Vec<FieldError>),
    #[error(transparent)]
    Api(ApiError),
}

fn fields(errors: &[FieldError]) -> String {
    let fields: Vec<String> = errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.message))
        .collect();
    fields.join("; ")
}

/// Why an order must be tried again later.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Api(ApiError),
    #[error("could not write to {topic}: {source}")]
    DeadLetter { topic: String, source: KafkaError },
}

/// The outcome of one message: `Ok` when it is handled for good (stored, already stored,
/// deleted since, or dead-lettered).
type Step = Result<(), Retry>;

struct Worker {
    consumer: StreamConsumer<Observed>,
    producer: FutureProducer<Context>,
    api: OrdersApi,
    dlq: String,
}

pub async fn run(
    settings: Settings,
    kafka: Kafka,
    state: Arc<ConsumerState>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let consumer: StreamConsumer<Observed> = kafka
        .config("kafka-orders-consumer")
        .set("group.id", &settings.kafka.group)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "10000")
        .set("fetch.wait.max.ms", "100")
        .set("statistics.interval.ms", "5000")
        .create_with_context(Observed(state))?;
    consumer.subscribe(&[&settings.kafka.topic])?;
    let producer: FutureProducer<Context> = kafka.create(
        kafka
            .config("kafka-orders-consumer-dlq")
            .set("acks", "all")
            .set("enable.idempotence", "true"),
    )?;
    let worker = Worker {
        consumer,
        producer,
        api: OrdersApi::new(settings.orders_url(), settings.tokens.first())?,
        dlq: kafka::dlq_topic(&settings.kafka.topic),
    };
    let mut rewinds = Rewinds::default();
    let mut in_flight = FuturesOrdered::new();
    tracing::info!(
        topic = settings.kafka.topic,
        group = settings.kafka.group,
        api = settings.orders_url(),
        "consumer started"
    );
    loop {
        let next_resume = rewinds.next_resume();
        tokio::select! {
            _ = crate::shutdown::requested(&mut shutdown) => break,
            _ = tokio::time::sleep_until(next_resume.unwrap_or_else(Instant::now)), if next_resume.is_some() => worker.resume(rewinds.due(Instant::now())),
            Some((message, step)) = in_flight.next(), if !in_flight.is_empty() => worker.after(&message, step, &mut rewinds),
            message = worker.consumer.recv(), if in_flight.len() < IN_FLIGHT => match message {
                Ok(message) => {
                    let message = message.detach();
                    rewinds.arrived(message.partition(), message.offset());
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
        worker.after(&message, step, &mut rewinds);
    }
    drop(in_flight);
    // Commit what was processed, then leave the group (librdkafka does both on close). With
    // Kafka gone (stopped beside this process) librdkafka waits out the group session and more;
    // the stop does not wait that long: what was not committed is delivered again.
    let consumer = worker.consumer;
    let close = tokio::task::spawn_blocking(move || {
        if let Err(err) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(%err, "final commit had nothing to do");
        }
        consumer.unsubscribe();
        drop(consumer);
    });
    match tokio::time::timeout(CLOSE_WAIT, close).await {
        Ok(closed) => closed?,
        Err(_) => tracing::warn!(
            "Kafka did not take the final commit within {} s; stopping without it (orders since the last commit are delivered again)",
            CLOSE_WAIT.as_secs()
        ),
    }
    tracing::info!("consumer stopped");
    Ok(())
}

fn parse(payload: Option<&[u8]>) -> Result<Order, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(payload.unwrap_or_default())?;
    Order::from_json(&value).map_err(Refusal::NotAnOrder)
}

impl Worker {
    async fn handle(&self, message: &OwnedMessage) -> Step {
        let (partition, offset) = (message.partition(), message.offset());
        let order = match parse(message.payload()) {
            Ok(order) => order,
            Err(refusal) => return self.dead_letter(message, refusal).await,
        };
        match self.api.forward(&order).await {
            Forwarded::Stored { created, stored } => {
                let status = if created { 201 } else { 200 };
                publish::reply(
                    &self.producer,
                    message,
                    &json!({"status": status, "order": stored}),
                )
                .await;
                let outcome = if created { "stored" } else { "duplicate" };
                metrics::counter!("orders_consumed_total", "outcome" => outcome).increment(1);
                tracing::info!(
                    order_id = order.id,
                    user_id = order.user_id,
                    total = %order.total_amount,
                    partition,
                    offset,
                    outcome = if created { "stored" } else { "already stored" },
                    "order processed"
                );
                Ok(())
            }
            Forwarded::Deleted => {
                metrics::counter!("orders_consumed_total", "outcome" => "deleted").increment(1);
                tracing::info!(
                    order_id = order.id,
                    partition,
                    offset,
                    "order was deleted since it was stored; not stored again"
                );
                Ok(())
            }
            Forwarded::Refused(error) => self.dead_letter(message, Refusal::Api(error)).await,
            Forwarded::Retry(error) => Err(Retry::Api(error)),
        }
    }

    async fn dead_letter(&self, message: &OwnedMessage, refusal: Refusal) -> Step {
        let error = refusal.to_string();
        let mut parked =
            publish::dead_letter(&self.producer, &self.dlq, message, &error, Keep::All).await;
        // Retrying a copy refused for its size would stall the partition for good: the message
        // came through a topic that allows more than the dead-letter one (or than this
        // producer's own `message.max.bytes`), and the headers added here make it larger still.
        if parked.as_ref().is_err_and(publish::too_large) {
            tracing::warn!(
                partition = message.partition(),
                offset = message.offset(),
                dlq = self.dlq,
                bytes = message.payload().map_or(0, <[u8]>::len),
                kept = publish::TRUNCATED_BYTES,
                "too large for the dead-letter topic: parking a truncated copy"
            );
            parked =
                publish::dead_letter(&self.producer, &self.dlq, message, &error, Keep::Truncated)
                    .await;
        }
        if let Err(source) = parked {
            return Err(Retry::DeadLetter {
                topic: self.dlq.clone(),
                source,
            });
        }
        metrics::counter!("orders_dead_lettered_total").increment(1);
        tracing::warn!(partition = message.partition(), offset = message.offset(), dlq = self.dlq, %error, "order sent to the dead-letter topic");
        publish::reply(
            &self.producer,
            message,
            &json!({"status": 422, "error": error}),
        )
        .await;
        Ok(())
    }

    fn after(&self, message: &OwnedMessage, step: Step, rewinds: &mut Rewinds) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        match rewinds.outcome(partition, offset, step.is_ok(), Instant::now()) {
            Action::Ignore => {}
            Action::Commit => {
                if let Err(err) = self.consumer.store_offset(topic, partition, offset) {
                    tracing::warn!(%err, partition, "could not store the offset for commit");
                }
            }
            Action::Rewind { attempt, backoff } => {
                metrics::counter!("orders_retried_total").increment(1);
                let error = step.err().map(|why| why.to_string()).unwrap_or_default();
                tracing::warn!(partition, offset, attempt, retry_in_ms = backoff.as_millis() as u64, %error, "will retry");
                if let Err(err) = self.consumer.pause(&one_partition(topic, partition)) {
                    tracing::warn!(%err, "could not pause the partition");
                }
                if let Err(err) = self.consumer.seek(
                    topic,
                    partition,
                    Offset::Offset(offset),
                    Duration::from_secs(1),
                ) {
                    tracing::warn!(%err, "could not rewind the partition");
                }
            }
        }
    }

    /// Resumes the partitions whose backoff is over.
    fn resume(&self, partitions: Vec<i32>) {
        let topics: Vec<String> = self
            .consumer
            .subscription()
            .map(|s| s.elements().iter().map(|e| e.topic().to_string()).collect())
            .unwrap_or_default();
        for partition in partitions {
            for topic in &topics {
                if let Err(err) = self.consumer.resume(&one_partition(topic, partition)) {
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
