//! An embeddable broker that speaks the Kafka wire protocol.
//!
//! Any ordinary Kafka client (librdkafka, the Java client, kafka-python, kafkajs, franz-go)
//! can produce to it and consume from it unchanged. It is a single node that is its own
//! controller, group coordinator and partition leader for every partition.
//!
//! ```no_run
//! # async fn demo() -> Result<(), broker::BrokerError> {
//! let handle = broker::Broker::start(broker::BrokerConfig::ephemeral()).await?;
//! println!("listening on {}", handle.addr());
//! handle.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod blocking;
mod cluster;
mod config;
mod error;
mod files;
mod frame;
mod framed;
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod log;
mod metrics;
mod producer_ids;
mod read_frame;
mod server;
mod shutdown;
mod topic_config;
mod topic_store;
mod txn;

pub use cluster::Stats;
pub use config::{BrokerConfig, FsyncPolicy, InvalidFsyncPolicy};
pub use error::BrokerError;
pub use server::{Broker, BrokerHandle, StatsSource};

/// Frame decoding, public for the fuzz target.
pub use frame::{decode_request, FrameError};
