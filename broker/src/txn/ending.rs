//! Ending a transaction: its markers, its groups' offsets, and the epoch bump that fences.

use kafka_protocol::ResponseError;

use super::{issue, Book, Txn, TxnState};
use crate::cluster::Cluster;

/// Bumps the epoch, which fences whoever holds the old one. The markers of the transaction
/// being ended are written at the bumped epoch (up to `i16::MAX`); a spent epoch is renewed
/// once they are written (`complete`).
pub fn bump_epoch(txn: &mut Txn) {
    txn.epoch = txn.epoch.saturating_add(1);
}

/// A spent epoch: a new producer id at epoch 0 from now on, as Kafka does.
pub fn renew_if_spent(cluster: &Cluster, txn: &mut Txn) -> Result<(), ResponseError> {
    if txn.epoch >= i16::MAX - 1 {
        txn.producer_id = issue(cluster)?;
        txn.epoch = 0;
    }
    Ok(())
}

/// Ends `txn` as `commit` says: the Prepare state on disk (from then on the outcome is decided),
/// then `complete`. Returns the state reached: still Prepare if a partition or a group could
/// not take its part yet.
pub fn finish(
    book: &mut Book,
    cluster: &Cluster,
    mut txn: Txn,
    commit: bool,
) -> Result<Txn, ResponseError> {
    txn.state = if commit {
        TxnState::PrepareCommit
    } else {
        TxnState::PrepareAbort
    };
    book.put(txn.clone())?;
    complete(book, cluster, txn)
}

/// Writes a Prepare state's marker to each of its partitions and, on commit, its staged offsets
/// into their groups, then records the Complete state. If a partition or a group fails (a
/// storage error), the state stays Prepare and the coordinator's tick calls this again: a
/// marker written twice is harmless (the second finds no open transaction), an offset is
/// written again. A deleted topic has nothing left to end.
pub fn complete(book: &mut Book, cluster: &Cluster, mut txn: Txn) -> Result<Txn, ResponseError> {
    let commit = txn.state == TxnState::PrepareCommit;
    let mut done = true;
    for (topic, index) in &txn.partitions {
        let Some(topic_now) = cluster.topic(topic) else {
            continue;
        };
        let Some(partition) = topic_now.partition(*index) else {
            continue;
        };
        let written = partition
            .log()
            .append_marker(txn.producer_id, txn.epoch, commit);
        match written {
            Ok(_) | Err(ResponseError::UnknownTopicOrPartition) => {}
            Err(err) => {
                tracing::error!(
                    ?err,
                    topic,
                    partition = index,
                    id = txn.id,
                    "cannot write a transaction marker; retried"
                );
                done = false;
            }
        }
    }
    cluster.notify_appended();
    if commit {
        for offset in &txn.offsets {
            let stored = cluster.groups.with_group(&offset.group, |group| {
                cluster.groups.store_offset(
                    group,
                    &offset.topic,
                    offset.partition,
                    offset.committed(),
                )
            });
            if let Err(err) = stored {
                tracing::error!(%err, group = offset.group, "cannot store a transaction's offset; retried");
                done = false;
            }
        }
    }
    if !done {
        return Ok(txn);
    }
    txn.state = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    txn.partitions.clear();
    txn.groups.clear();
    txn.offsets.clear();
    renew_if_spent(cluster, &mut txn)?;
    book.put(txn.clone())?;
    Ok(txn)
}
