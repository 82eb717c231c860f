//! Partition logs: record batches in memory, and on disk when a data directory is set.

pub mod batch;
mod chunked;
pub mod control;
pub mod open_txns;
pub mod partition;
mod producers;
pub mod segment;

pub use partition::PartitionLog;
