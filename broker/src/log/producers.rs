//! Idempotent-producer bookkeeping for one partition: the epoch and last sequence of each
//! producer id, and its last few batches so a retried batch is acknowledged, not stored again.

use std::collections::{HashMap, VecDeque};

use kafka_protocol::ResponseError;

use super::batch::Batch;

/// Kafka keeps this many batches per producer for duplicate detection
/// (`max.in.flight.requests.per.connection` may not exceed it with idempotence on).
const RECENT_BATCHES: usize = 5;

#[derive(Debug)]
struct ProducerState {
    epoch: i16,
    last_sequence: i32,
    /// The max timestamp of its last batch, for DescribeProducers.
    last_timestamp: i64,
    /// (first sequence, last sequence, base offset) of recent batches, oldest first.
    recent: VecDeque<(i32, i32, i64)>,
}

/// What to do with a batch from an idempotent producer.
#[derive(Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    Append,
    /// Already stored at this base offset: answer success without storing it again.
    Duplicate(i64),
}

#[derive(Debug, Default)]
pub struct Producers(HashMap<i64, ProducerState>);

fn last_sequence(batch: &Batch) -> i32 {
    // Sequences wrap from i32::MAX to 0, like Kafka's DefaultRecordBatch.incrementSequence.
    let next = i64::from(batch.base_sequence()) + i64::from(batch.last_offset_delta());
    (next % (i64::from(i32::MAX) + 1)) as i32
}

fn follows(previous: i32, next: i32) -> bool {
    if previous == i32::MAX {
        next == 0
    } else {
        next == previous + 1
    }
}

impl Producers {
    pub fn check(&self, batch: &Batch) -> Result<SequenceCheck, ResponseError> {
        let (id, epoch, first) = (
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence(),
        );
        if id < 0 {
            return Ok(SequenceCheck::Append);
        }
        let Some(state) = self.0.get(&id) else {
            // A producer we have never seen starts at sequence 0. (Kafka says the same after
            // the producer's state was lost to retention: the client then resets itself.)
            return if first == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(ResponseError::OutOfOrderSequenceNumber)
            };
        };
        if epoch < state.epoch {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        if epoch > state.epoch {
            return if first == 0 {
                Ok(SequenceCheck::Append)
            } else {
                Err(ResponseError::OutOfOrderSequenceNumber)
            };
        }
        let last = last_sequence(batch);
        if let Some(&(_, _, offset)) = state
            .recent
            .iter()
            .find(|(f, l, _)| *f == first && *l == last)
        {
            return Ok(SequenceCheck::Duplicate(offset));
        }
        if follows(state.last_sequence, first) {
            Ok(SequenceCheck::Append)
        } else {
            Err(ResponseError::OutOfOrderSequenceNumber)
        }
    }

    /// Records a batch that was appended at `base_offset` (also used when recovering a log).
    pub fn record(&mut self, batch: &Batch, base_offset: i64) {
        let id = batch.producer_id();
        if id < 0 {
            return;
        }
        let epoch = batch.producer_epoch();
        let state = self.0.entry(id).or_insert(ProducerState {
            epoch,
            last_sequence: -1,
            last_timestamp: -1,
            recent: VecDeque::new(),
        });
        if epoch != state.epoch {
            state.epoch = epoch;
            state.last_sequence = -1;
            state.recent.clear();
        }
        if batch.is_control() {
            // A transaction marker is not sequenced. Written with a bumped epoch (the producer
            // was fenced, or transaction version 2 ended), it started the new epoch above,
            // whose first batch is sequence 0.
            return;
        }
        state.last_sequence = last_sequence(batch);
        state.last_timestamp = batch.max_timestamp();
        if state.recent.len() == RECENT_BATCHES {
            state.recent.pop_front();
        }
        state
            .recent
            .push_back((batch.base_sequence(), state.last_sequence, base_offset));
    }

    /// The producer's current epoch here, if it wrote here.
    pub fn epoch(&self, id: i64) -> Option<i16> {
        self.0.get(&id).map(|s| s.epoch)
    }

    /// Each idempotent producer seen: (id, epoch, last sequence, last timestamp).
    pub fn active(&self) -> Vec<(i64, i16, i32, i64)> {
        let mut all: Vec<_> = self
            .0
            .iter()
            .map(|(&id, s)| (id, s.epoch, s.last_sequence, s.last_timestamp))
            .collect();
        all.sort_unstable();
        all
    }

    pub fn max_producer_id(&self) -> Option<i64> {
        self.0.keys().copied().max()
    }
}
