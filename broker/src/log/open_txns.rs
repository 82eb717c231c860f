//! One partition's view of transactions: where each producer's open transaction begins (the
//! last stable offset is the first of them) and the ranges of aborted ones, which a
//! `read_committed` fetch hands to the client so it drops their records.
//!
//! Rebuilt from the batches themselves when a log is recovered: a transactional data batch
//! opens its producer's transaction if none is open, a marker closes it.

use std::collections::{BTreeMap, VecDeque};

use super::batch::Batch;
use super::control::marker_type;

/// An aborted transaction in this partition: its producer and its first and last offsets
/// (the last being the abort marker's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Default)]
pub struct OpenTxns {
    /// Producer id → the first offset of its open transaction here.
    open: BTreeMap<i64, i64>,
    /// Aborted transactions in the order their markers were written (so by `last_offset`).
    aborted: VecDeque<AbortedTxn>,
}

impl OpenTxns {
    /// Takes note of a batch appended (or recovered) at `base_offset`.
    pub fn record(&mut self, batch: &Batch, base_offset: i64) {
        if !batch.is_transactional() {
            return;
        }
        let producer_id = batch.producer_id();
        match marker_type(batch) {
            None if batch.is_control() => {}
            None => {
                self.open.entry(producer_id).or_insert(base_offset);
            }
            Some(commit) => {
                let Some(first_offset) = self.open.remove(&producer_id) else {
                    return; // a marker for a transaction with no data here
                };
                if !commit {
                    self.aborted.push_back(AbortedTxn {
                        producer_id,
                        first_offset,
                        last_offset: base_offset,
                    });
                }
            }
        }
    }

    /// The first offset of an open transaction, if any: the last stable offset.
    pub fn first_open(&self) -> Option<i64> {
        self.open.values().copied().min()
    }

    /// Where `producer_id`'s open transaction begins here.
    pub fn open_since(&self, producer_id: i64) -> Option<i64> {
        self.open.get(&producer_id).copied()
    }

    /// The aborted transactions that overlap offsets `from` to `until` (exclusive).
    pub fn aborted_between(&self, from: i64, until: i64) -> Vec<AbortedTxn> {
        // Ordered by last offset, not by first: a transaction that began early may end after
        // one that began late, so every later one is looked at.
        let first = self.aborted.partition_point(|a| a.last_offset < from);
        self.aborted
            .range(first..)
            .filter(|a| a.first_offset < until)
            .copied()
            .collect()
    }

    /// Forgets aborted transactions wholly before the log start: no fetch can reach them.
    pub fn forget_before(&mut self, log_start: i64) {
        while self
            .aborted
            .front()
            .is_some_and(|a| a.last_offset < log_start)
        {
            self.aborted.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{self, testing};
    use crate::log::control::marker;

    fn data(producer_id: i64) -> Batch {
        let bytes = testing::transactional(producer_id, 0, 0, &[(None, b"v")]);
        batch::take_one(&bytes).expect("valid").0
    }

    #[test]
    fn open_transactions_hold_the_stable_offset_and_aborts_are_listed() {
        let mut txns = OpenTxns::default();
        txns.record(&data(1), 0);
        txns.record(&data(2), 1);
        txns.record(&data(1), 2);
        assert_eq!(txns.first_open(), Some(0));
        txns.record(&marker(1, 0, false, 0), 3);
        assert_eq!(txns.first_open(), Some(1), "producer 2 still open");
        txns.record(&marker(2, 0, true, 0), 4);
        assert_eq!(txns.first_open(), None);
        let aborted = AbortedTxn {
            producer_id: 1,
            first_offset: 0,
            last_offset: 3,
        };
        assert_eq!(txns.aborted_between(0, 5), [aborted]);
        assert_eq!(txns.aborted_between(3, 5), [aborted]);
        assert!(txns.aborted_between(4, 5).is_empty());
        txns.record(&marker(9, 0, false, 0), 5);
        assert_eq!(
            txns.aborted_between(0, 9).len(),
            1,
            "no data, nothing aborted"
        );
        txns.forget_before(4);
        assert!(txns.aborted_between(0, 9).is_empty());
        // An early transaction ending after a later one is still listed for a range that
        // reaches only its start.
        txns.record(&data(3), 10);
        txns.record(&data(4), 11);
        txns.record(&marker(4, 0, false, 0), 12);
        txns.record(&marker(3, 0, false, 0), 13);
        let early = txns.aborted_between(10, 11);
        assert_eq!(early.iter().map(|a| a.producer_id).collect::<Vec<_>>(), [3]);
    }
}
