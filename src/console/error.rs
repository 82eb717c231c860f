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
