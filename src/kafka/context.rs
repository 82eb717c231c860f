//! The librdkafka context the services' clients share: it keeps librdkafka's latest error, so
//! that a start-up check or `/readyz` can say *why* Kafka does not answer (a wrong password,
//! an untrusted certificate) instead of a bare timeout.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

#[derive(Clone, Debug, Default)]
pub struct Errors(Arc<Mutex<Option<String>>>);

impl Errors {
    pub fn record(&self, error: &KafkaError, reason: &str) {
        // "All brokers are down" sums up the errors before it: the reason stays theirs.
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown)
            && self.last().is_some()
        {
            return;
        }
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

pub struct Context {
    pub errors: Errors,
    /// For short-lived clients (the console makes one per page): their complaints while being
    /// torn down mid-connection are noise, so they are logged at debug level only.
    pub quiet: bool,
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        if self.quiet {
            tracing::debug!(target: "librdkafka", "{fac}: {log_message}");
        } else {
            match level {
                RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error => {
                    tracing::error!(target: "librdkafka", "{fac}: {log_message}")
                }
                RDKafkaLogLevel::Warning => {
                    tracing::warn!(target: "librdkafka", "{fac}: {log_message}")
                }
                RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                    tracing::info!(target: "librdkafka", "{fac}: {log_message}")
                }
                RDKafkaLogLevel::Debug => {
                    tracing::debug!(target: "librdkafka", "{fac}: {log_message}")
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.quiet {
            tracing::debug!(%error, reason, "Kafka client error");
        } else {
            tracing::warn!(%error, reason, "Kafka client error");
        }
        self.errors.record(&error, reason);
    }
}

impl ConsumerContext for Context {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_brokers_down_does_not_hide_why() {
        let errors = Errors::default();
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        errors.record(&down, "3/3 brokers are down");
        assert_eq!(errors.last().as_deref(), Some("3/3 brokers are down"));
        let ssl = KafkaError::Global(RDKafkaErrorCode::SSL);
        errors.record(&ssl, "SSL handshake failed: certificate verify failed");
        errors.record(&down, "3/3 brokers are down");
        assert_eq!(
            errors.last().as_deref(),
            Some("SSL handshake failed: certificate verify failed")
        );
    }
}
