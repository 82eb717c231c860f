//! Request counts and latencies by Kafka API, through the `metrics` facade: the program that
//! embeds the broker decides whether and how they are exported (kafka-orders serves them at
//! `/metrics`); without a recorder they cost next to nothing.
//!
//! Handles are made once per API when the broker starts, so the hot path does no label
//! hashing or allocation per request.

use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use metrics::{Counter, Histogram};

use crate::api::SUPPORTED;

pub struct ApiMetrics(Vec<(ApiKey, Counter, Histogram)>);

impl ApiMetrics {
    pub fn new() -> Self {
        Self(
            SUPPORTED
                .iter()
                .map(|(api, _, _)| {
                    let name = format!("{api:?}");
                    (
                        *api,
                        metrics::counter!("kafka_broker_requests_total", "api" => name.clone()),
                        metrics::histogram!("kafka_broker_request_duration_seconds", "api" => name),
                    )
                })
                .collect(),
        )
    }

    pub fn record(&self, api: ApiKey, took: Duration) {
        if let Some((_, count, latency)) = self.0.iter().find(|(key, _, _)| *key == api) {
            count.increment(1);
            latency.record(took.as_secs_f64());
        }
    }
}
