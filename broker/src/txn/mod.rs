//! The transaction coordinator (KIP-98): transactional ids, their producer id and epoch, the
//! partitions and groups of each open transaction, the offsets a transaction commits for its
//! groups, and the markers that end it.
//!
//! One node coordinates every transaction, so a commit or an abort is done inside the EndTxn
//! request: the Prepare state is written to the transaction log, the markers to every
//! partition, the staged offsets to the groups, then the Complete state. A Prepare state left
//! by a restart or by a partition that could not take its marker is completed at start and on
//! every tick (markers written twice are harmless: a marker for a transaction with no open data
//! is ignored).
//!
//! Both transaction protocols are served, chosen by request version as Kafka does (see
//! [`TxnVersion`]; ApiVersions finalizes `transaction.version` 2, as a Kafka 4 cluster). With
//! KIP-890's defences: a transactional batch is appended only if its partition is in its
//! producer's open transaction (version 1: added by AddPartitionsToTxn; version 2: added by
//! the batch itself), checked under the coordinator's lock, so an EndTxn cannot slip in
//! between the check and the append and leave a transaction hanging; and version 2 bumps the
//! epoch at every end, so a late write of an ended transaction is fenced.
//!
//! Differences from Kafka: a fenced transaction is aborted within the InitProducerId request
//! (Kafka answers CONCURRENT_TRANSACTIONS and the client retries), and transactional ids are
//! never expired (Kafka forgets an idle one after `transactional.id.expiration.ms`, 7 days).

mod ending;
mod requests;
mod state;
mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use kafka_protocol::ResponseError;

use crate::cluster::Cluster;
use crate::error::BrokerError;
use crate::group::Committed;
pub use state::{PendingOffset, Txn, TxnState};
use store::TxnLog;

/// The transaction protocol a request speaks: version 2 (KIP-890 part 2) from Produce v12,
/// TxnOffsetCommit v5 and EndTxn v5, as Kafka decides it, request by request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnVersion {
    V1,
    V2,
}

impl TxnVersion {
    pub fn of(request_version: i16, first_v2: i16) -> Self {
        if request_version >= first_v2 {
            Self::V2
        } else {
            Self::V1
        }
    }
}

/// The groups one transaction may commit offsets for. Kafka's bound is the 50 partitions of
/// `__consumer_offsets` a transaction adds; an application uses one group per transaction.
pub const MAX_GROUPS: usize = 1_000;

/// Kafka's `transaction.max.timeout.ms` default: a longer `transaction.timeout.ms` is refused.
pub const MAX_TIMEOUT_MS: i32 = 900_000;

/// Every transactional id, and the file their states go to.
///
/// Locking: one `std::sync::Mutex` over the whole book. It is held for one request's change,
/// including the markers and group offsets an EndTxn writes (partition locks and group locks
/// are taken under it, never the other way round) and the append of a transactional batch.
pub struct Transactions {
    book: Mutex<Book>,
}

struct Book {
    txns: BTreeMap<String, Txn>,
    by_producer: HashMap<i64, String>,
    log: Option<TxnLog>,
}

impl Book {
    /// Records the transaction's new state on disk first, then in memory.
    fn put(&mut self, txn: Txn) -> Result<(), ResponseError> {
        if let Some(log) = &mut self.log {
            log.append(&txn).map_err(|err| {
                if err.kind() == std::io::ErrorKind::InvalidInput {
                    tracing::warn!(%err, id = txn.id, "refused: the transaction's state is too large");
                    return ResponseError::InvalidRequest;
                }
                tracing::error!(%err, id = txn.id, "cannot persist a transaction's state");
                ResponseError::KafkaStorageError
            })?;
        }
        self.by_producer.insert(txn.producer_id, txn.id.clone());
        if let Some(before) = self.txns.insert(txn.id.clone(), txn) {
            if self.txns[&before.id].producer_id != before.producer_id {
                self.by_producer.remove(&before.producer_id);
            }
        }
        if let Some(log) = self.log.as_mut().filter(|log| log.rewrite_due()) {
            // The state is already on disk: a failed rewrite leaves a longer file, no loss.
            if let Err(err) = log.rewrite(self.txns.values()) {
                tracing::warn!(%err, "cannot rewrite the transaction log");
            }
        }
        Ok(())
    }

    /// The open transaction of `id`, checked against the producer id and epoch sent.
    fn checked(&self, id: &str, producer_id: i64, epoch: i16) -> Result<Txn, ResponseError> {
        let txn = self
            .txns
            .get(id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        if txn.producer_id != producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if txn.epoch != epoch {
            return Err(ResponseError::ProducerFenced);
        }
        if txn.state.preparing() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        Ok(txn.clone())
    }
}

fn now_ms() -> i64 {
    crate::files::unix_millis()
}

impl Transactions {
    pub fn open(data_dir: Option<&Path>) -> Result<Self, BrokerError> {
        let (log, txns) = match data_dir {
            None => (None, BTreeMap::new()),
            Some(dir) => {
                let (log, txns) = TxnLog::open(dir).map_err(|source| BrokerError::Storage {
                    path: dir.join(store::FILE),
                    source,
                })?;
                (Some(log), txns)
            }
        };
        let by_producer = txns
            .values()
            .map(|t| (t.producer_id, t.id.clone()))
            .collect();
        Ok(Self {
            book: Mutex::new(Book {
                txns,
                by_producer,
                log,
            }),
        })
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The largest producer id a transactional id holds (so a restart never issues it again).
    pub fn max_producer_id(&self) -> Option<i64> {
        self.book().by_producer.keys().copied().max()
    }

    /// Completes the transactions left in a Prepare state: by a restart, or by a partition or
    /// group that could not take its part (see `ending::complete`). At start and every tick.
    pub fn complete_prepared(&self, cluster: &Cluster) {
        let mut book = self.book();
        let preparing: Vec<Txn> = book
            .txns
            .values()
            .filter(|t| t.state.preparing())
            .cloned()
            .collect();
        for txn in preparing {
            let id = txn.id.clone();
            match ending::complete(&mut book, cluster, txn) {
                Ok(txn) if !txn.state.preparing() => {
                    tracing::info!(id, state = txn.state.name(), "completed a transaction");
                }
                Ok(_) => {}
                Err(err) => tracing::error!(id, ?err, "cannot complete a transaction"),
            }
        }
    }

    /// Appends a partition's transactional batches with `append`, if each one's producer has
    /// an open transaction, at the same epoch, that includes the partition. Version 2 adds
    /// the partition with its first batch (starting the transaction if need be), as Kafka's
    /// partition leader adds it through the coordinator.
    pub fn append_checked<R>(
        &self,
        batches: &[(i64, i16)],
        (topic, partition): (&str, i32),
        version: TxnVersion,
        append: impl FnOnce() -> Result<R, ResponseError>,
    ) -> Result<R, ResponseError> {
        let mut book = self.book();
        let key = (topic.to_string(), partition);
        for &(producer_id, epoch) in batches {
            let txn = book
                .by_producer
                .get(&producer_id)
                .and_then(|id| book.txns.get(id))
                .ok_or(ResponseError::InvalidTxnState)?;
            if epoch < txn.epoch {
                return Err(ResponseError::InvalidProducerEpoch);
            }
            if txn.producer_id != producer_id || epoch != txn.epoch || txn.state.preparing() {
                return Err(ResponseError::InvalidTxnState);
            }
            if txn.state == TxnState::Ongoing && txn.partitions.contains(&key) {
                continue;
            }
            if version == TxnVersion::V1 {
                return Err(ResponseError::InvalidTxnState);
            }
            let mut txn = txn.clone();
            txn.begin();
            txn.partitions.insert(key.clone());
            book.put(txn)?;
        }
        append()
    }

    /// The partitions of `group` with offsets staged by an open transaction: a consumer that
    /// requires stable offsets is told to wait for them (UNSTABLE_OFFSET_COMMIT).
    pub fn unstable(&self, group: &str) -> HashSet<(String, i32)> {
        self.book()
            .txns
            .values()
            .filter(|t| t.state == TxnState::Ongoing)
            .flat_map(|t| t.offsets.iter())
            .filter(|o| o.group == group)
            .map(|o| (o.topic.clone(), o.partition))
            .collect()
    }

    /// Aborts, fencing their producers, the transactions open longer than their timeout, and
    /// completes those left in a Prepare state. Every tick.
    pub fn expire(&self, cluster: &Cluster) {
        let now = now_ms();
        let mut book = self.book();
        let expired: Vec<Txn> = book
            .txns
            .values()
            .filter(|t| {
                t.state == TxnState::Ongoing
                    && now.saturating_sub(t.started_ms) > i64::from(t.timeout_ms)
            })
            .cloned()
            .collect();
        for mut txn in expired {
            tracing::info!(id = txn.id, "aborting a transaction open past its timeout");
            ending::bump_epoch(&mut txn);
            if let Err(err) = ending::finish(&mut book, cluster, txn, false) {
                tracing::error!(?err, "cannot abort a timed-out transaction");
            }
        }
        drop(book);
        self.complete_prepared(cluster);
    }

    /// Every transaction, in id order (ListTransactions, DescribeTransactions).
    pub fn all(&self) -> Vec<Txn> {
        self.book().txns.values().cloned().collect()
    }
}

/// A new producer id from the broker's issuer.
fn issue(cluster: &Cluster) -> Result<i64, ResponseError> {
    cluster.producer_ids.issue().map_err(|err| {
        tracing::error!(%err, "cannot reserve producer ids");
        ResponseError::KafkaStorageError
    })
}

impl PendingOffset {
    fn same_partition(&self, other: &Self) -> bool {
        (&self.group, &self.topic, self.partition) == (&other.group, &other.topic, other.partition)
    }

    pub fn committed(&self) -> Committed {
        Committed {
            offset: self.offset,
            metadata: self.metadata.clone(),
        }
    }
}
