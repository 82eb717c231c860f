//! Ending a transaction: its markers, its groups' offsets, and the epoch bump that fences.

use kafka_protocol::ResponseError;

use super::{issue, now_ms, Book, Txn, TxnState};
use crate::cluster::Cluster;

/// Bumps the epoch (a new producer id once the epoch is exhausted, as Kafka does), which
/// fences whoever holds the old one.
pub fn bump_epoch(cluster: &Cluster, txn: &mut Txn) -> Result<(), ResponseError> {
    if txn.epoch >= i16::MAX - 1 {
        txn.producer_id = issue(cluster)?;
        txn.epoch = 0;
    } else {
        txn.epoch += 1;
    }
    Ok(())
}

/// Commits or aborts `txn`: Prepare state on disk, a marker in each of its partitions at its
/// current epoch, on commit its staged offsets into their groups, then the Complete state.
/// A partition that cannot take its marker (deleted, or failed on disk) is logged and skipped:
/// there is nothing left there to end, or its data comes back only with a restart, which
/// finishes a Prepare state again.
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
        if let Err(err) = written {
            tracing::error!(
                ?err,
                topic,
                partition = index,
                id = txn.id,
                "cannot write a transaction marker"
            );
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
                tracing::error!(%err, group = offset.group, "cannot store a transaction's offset");
            }
        }
    }
    txn.state = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    txn.partitions.clear();
    txn.groups.clear();
    txn.offsets.clear();
    txn.updated_ms = now_ms();
    book.put(txn.clone())?;
    Ok(txn)
}
