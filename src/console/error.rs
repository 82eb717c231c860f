//! What can go wrong while the console reads or writes Kafka and the Orders API; pages show
//! it as it is.

use rdkafka::error::KafkaError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Kafka(#[from] KafkaError),
    #[error("{topic}/{partition}: {source}")]
    Partition {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error("topic {0:?} does not exist")]
    NoSuchTopic(String),
    /// A value the user typed that cannot be used; the text says which and why.
    #[error("{0}")]
    Input(String),
    #[error("no Orders API is configured for this console (orders_api_url)")]
    NoOrdersApi,
    #[error("the Orders API at {base} is not reachable: {source}")]
    OrdersApi {
        base: String,
        source: reqwest::Error,
    },
    /// The console's own protocol client (DescribeLogDirs, OffsetDelete, ...).
    #[error("{0}")]
    Wire(#[from] super::wire::WireError),
    #[error("the request was interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// Kafka's name for an error, as its documentation and tools spell it: `InvalidConfig` (the
/// Rust variant, from kafka-protocol or rdkafka) becomes `INVALID_CONFIG`.
pub fn code_name(variant: &str) -> String {
    let mut out = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The name of a Kafka protocol error code; `None` for 0 (no error).
pub fn protocol_error(code: i16) -> Option<String> {
    use kafka_protocol::ResponseError;
    ResponseError::try_from_code(code).map(|err| match err {
        ResponseError::Unknown(code) => format!("error code {code}"),
        known => code_name(&known.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_names_are_spelled_as_kafka_spells_them() {
        assert_eq!(code_name("InvalidConfig"), "INVALID_CONFIG");
        assert_eq!(protocol_error(0), None);
        assert_eq!(
            protocol_error(3).as_deref(),
            Some("UNKNOWN_TOPIC_OR_PARTITION")
        );
        assert_eq!(protocol_error(9999).as_deref(), Some("error code 9999"));
    }
}
