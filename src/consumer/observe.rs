//! What the consumer tells the outside: which partitions it holds (for `/readyz`) and its
//! lag per partition (for `/metrics`), both learnt from librdkafka callbacks.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::{ClientContext, Statistics};
use serde_json::json;

use crate::http;
use crate::kafka::Errors;

pub struct ConsumerState {
    assigned: Mutex<BTreeSet<(String, i32)>>,
    /// librdkafka's latest complaint, shared with the process's other Kafka clients.
    errors: Errors,
}

impl ConsumerState {
    pub fn new(errors: Errors) -> Self {
        Self {
            assigned: Mutex::default(),
            errors,
        }
    }

    fn assigned(&self) -> BTreeSet<(String, i32)> {
        self.assigned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The librdkafka context of the consumer: partitions held, lag, and errors.
pub struct Observed(pub Arc<ConsumerState>);

impl ClientContext for Observed {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka client error");
        self.0.errors.record(&error, reason);
    }

    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            // Partition -1 is librdkafka's internal "unassigned" queue; -1 lag means unknown.
            for (partition, p) in t
                .partitions
                .iter()
                .filter(|(id, p)| **id >= 0 && p.consumer_lag >= 0)
            {
                metrics::gauge!("kafka_consumer_lag", "topic" => topic.clone(), "partition" => partition.to_string()).set(p.consumer_lag as f64);
            }
        }
    }
}

impl ConsumerContext for Observed {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut assigned = self.0.assigned.lock().unwrap_or_else(|p| p.into_inner());
        match rebalance {
            Rebalance::Assign(list) => {
                *assigned = list
                    .elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect();
                tracing::info!(partitions = ?*assigned, "partitions assigned");
            }
            Rebalance::Revoke(_) => assigned.clear(),
            Rebalance::Error(err) => tracing::warn!(%err, "rebalance failed"),
        }
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "kafka-orders consumer",
        description = "The consumer's health and metrics port."
    ),
    paths(readyz)
)]
struct ApiDoc;

/// The consumer's own small HTTP port: `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: Arc<ConsumerState>) -> Router {
    http::standard(
        Router::new()
            .route("/readyz", get(readyz))
            .with_state(state),
        "consumer",
        <ApiDoc as utoipa::OpenApi>::openapi(),
    )
}

/// Ready once the group gave this consumer at least one partition.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Partitions are assigned", body = Object),
    (status = 503, description = "No partitions assigned yet", body = crate::http::Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(state): State<Arc<ConsumerState>>) -> Response {
    let assigned = state.assigned();
    http::readiness(if assigned.is_empty() {
        let why = "no partitions assigned yet (joining the consumer group, or more consumers than partitions)";
        Err(match state.errors.last() {
            Some(kafka) => format!("{why}; Kafka client: {kafka}"),
            None => why.to_string(),
        })
    } else {
        Ok(
            json!({"partitions": assigned.iter().map(|(t, p)| format!("{t}-{p}")).collect::<Vec<_>>()}),
        )
    })
}
