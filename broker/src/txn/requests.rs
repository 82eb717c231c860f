//! The coordinator's requests from transactional producers: InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn.

use kafka_protocol::ResponseError;

use super::{
    ending, issue, PendingOffset, Transactions, Txn, TxnState, TxnVersion, MAX_GROUPS,
    MAX_TIMEOUT_MS,
};
use crate::cluster::Cluster;

impl Transactions {
    /// InitProducerId with a transactional id: a producer id and epoch for it. An existing
    /// id gets its epoch bumped, which fences the producer that had it; its open transaction
    /// is aborted. `given`: the id and epoch the producer already has (KIP-360), which must be
    /// the current ones.
    pub fn init(
        &self,
        cluster: &Cluster,
        id: &str,
        timeout_ms: i32,
        given: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let mut book = self.book();
        let txn = match book.txns.get(id).cloned() {
            None => {
                let producer_id = issue(cluster)?;
                Txn::new(id, producer_id, timeout_ms)
            }
            Some(mut txn) => {
                if txn.state.preparing() {
                    // An end whose markers could not all be written yet: try again first.
                    txn = ending::complete(&mut book, cluster, txn)?;
                    if txn.state.preparing() {
                        return Err(ResponseError::ConcurrentTransactions);
                    }
                }
                if given.is_some_and(|g| g != (txn.producer_id, txn.epoch)) {
                    return Err(ResponseError::ProducerFenced);
                }
                ending::bump_epoch(&mut txn);
                if txn.state == TxnState::Ongoing {
                    // Fencing: the old producer's transaction is aborted at the new epoch,
                    // so its late writes are refused everywhere.
                    txn = ending::finish(&mut book, cluster, txn, false)?;
                    if txn.state.preparing() {
                        return Err(ResponseError::ConcurrentTransactions);
                    }
                }
                ending::renew_if_spent(cluster, &mut txn)?;
                txn.state = TxnState::Empty;
                txn.timeout_ms = timeout_ms;
                txn
            }
        };
        let answer = (txn.producer_id, txn.epoch);
        book.put(txn)?;
        Ok(answer)
    }

    /// AddPartitionsToTxn: the partitions join the producer's transaction (starting it).
    pub fn add_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<(), ResponseError> {
        self.change(id, producer_id, epoch, |txn| {
            txn.partitions.extend(partitions);
            Ok(())
        })
    }

    /// AddOffsetsToTxn: the group's offsets will be committed with the transaction.
    pub fn add_group(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        group: &str,
    ) -> Result<(), ResponseError> {
        self.change(id, producer_id, epoch, |txn| add_group(txn, group))
    }

    fn change(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        f: impl FnOnce(&mut Txn) -> Result<(), ResponseError>,
    ) -> Result<(), ResponseError> {
        let mut book = self.book();
        let mut txn = book.checked(id, producer_id, epoch)?;
        txn.begin();
        f(&mut txn)?;
        book.put(txn)
    }

    /// TxnOffsetCommit: stages offsets for a group added to the open transaction (the group's
    /// own checks, member and generation, are the caller's). Transaction version 2 adds the
    /// group with its first offsets (the client sends no AddOffsetsToTxn).
    pub fn stage_offsets(
        &self,
        id: &str,
        (producer_id, epoch): (i64, i16),
        group: &str,
        offsets: Vec<PendingOffset>,
        version: TxnVersion,
    ) -> Result<(), ResponseError> {
        let mut book = self.book();
        let mut txn = book.checked(id, producer_id, epoch)?;
        if txn.state != TxnState::Ongoing || !txn.groups.contains(group) {
            if version == TxnVersion::V1 {
                return Err(ResponseError::InvalidTxnState);
            }
            txn.begin();
            add_group(&mut txn, group)?;
        }
        for offset in offsets {
            txn.offsets.retain(|o| !o.same_partition(&offset));
            txn.offsets.push(offset);
        }
        book.put(txn)
    }

    /// EndTxn: commits or aborts the open transaction; answers the producer id and epoch to go
    /// on with. Ending one that already ended the same way is a retry and succeeds; ending it
    /// the other way is refused. Version 2 (KIP-890 part 2) bumps the epoch with every end, so
    /// a late write of the ended transaction is fenced; its abort needs no open transaction
    /// (the client cannot know whether a partition joined).
    pub fn end(
        &self,
        cluster: &Cluster,
        id: &str,
        (producer_id, epoch): (i64, i16),
        commit: bool,
        version: TxnVersion,
    ) -> Result<(i64, i16), ResponseError> {
        let mut book = self.book();
        let ended_same_way = |state| {
            matches!(
                (state, commit),
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false)
            )
        };
        if let Some(txn) = book.txns.get(id) {
            // A version 2 retry comes with the epoch from before the bump.
            if txn.ended_at == Some((producer_id, epoch)) && ended_same_way(txn.state) {
                return Ok((txn.producer_id, txn.epoch));
            }
        }
        let mut txn = book.checked(id, producer_id, epoch)?;
        match version {
            TxnVersion::V1 if txn.state == TxnState::Ongoing => {}
            TxnVersion::V1 if ended_same_way(txn.state) => return Ok((producer_id, epoch)),
            TxnVersion::V2 if txn.state == TxnState::Ongoing || !commit => {
                txn.ended_at = Some((txn.producer_id, txn.epoch));
                ending::bump_epoch(&mut txn);
            }
            _ => return Err(ResponseError::InvalidTxnState),
        }
        // Answered once the outcome is decided (the Prepare state is on disk), as Kafka does;
        // markers that could not be written yet are retried by the coordinator's tick.
        let txn = ending::finish(&mut book, cluster, txn, commit)?;
        Ok((txn.producer_id, txn.epoch))
    }
}

/// Adds a group whose offsets the transaction commits; INVALID_REQUEST past `MAX_GROUPS`.
fn add_group(txn: &mut Txn, group: &str) -> Result<(), ResponseError> {
    if !txn.groups.contains(group) && txn.groups.len() >= MAX_GROUPS {
        return Err(ResponseError::InvalidRequest);
    }
    txn.groups.insert(group.to_string());
    Ok(())
}
