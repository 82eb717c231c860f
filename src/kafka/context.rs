//! The librdkafka context the services' clients share: it keeps librdkafka's latest error, so
//! that a start-up check or `/readyz` can say *why* Kafka does not answer (a wrong password,
//! an untrusted certificate) instead of a bare timeout.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

#[derive(Clone, Debug, Default)]
pub struct Errors(Arc<Mutex<Option<String>>>);

impl Errors {
    pub fn record(&self, error: &KafkaError, reason: &str) {
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_string()
        };
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
    }

    pub fn last(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

pub struct Context(pub Errors);

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(%error, reason, "Kafka client error");
        self.0.record(&error, reason);
    }
}

impl ConsumerContext for Context {}
