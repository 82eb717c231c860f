//! One partition's log: batches in offset order, appended and read as raw bytes.

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;

use super::batch::Batch;
use super::producers::{Producers, SequenceCheck};
use super::segment::SegmentWriter;

/// A single node is the leader of every partition for ever: its epoch never changes.
pub const LEADER_EPOCH: i32 = 0;

#[derive(Debug)]
struct Stored {
    base_offset: i64,
    batch: Batch,
}

impl Stored {
    fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.batch.last_offset_delta())
    }
}

/// One partition: its batches in memory (the fetch path reads only these), the producer
/// state for idempotence, and the segment file when the broker has a data directory.
///
/// It is always reached through the partition mutex (`cluster::Partition::log`), so offset
/// assignment, the segment write and the in-memory append happen as one step, in one order.
#[derive(Debug, Default)]
pub struct PartitionLog {
    batches: Vec<Stored>,
    next_offset: i64,
    size_bytes: u64,
    producers: Producers,
    segment: Option<SegmentWriter>,
    state: State,
}

/// Whether the partition still takes appends.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Open,
    /// A write or fsync of its segment failed: what is acknowledged is still served, but
    /// appends answer KAFKA_STORAGE_ERROR until a restart recovers the segment from disk
    /// (as Kafka takes a failed log directory offline).
    Failed,
    /// Its topic was deleted while a request still held it.
    Deleted,
}

/// What a successful append reports back to the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: i64,
}

impl PartitionLog {
    pub fn with_segment(segment: SegmentWriter, recovered: Vec<(i64, Batch)>) -> Self {
        let mut log = Self {
            segment: Some(segment),
            ..Self::default()
        };
        for (base_offset, batch) in recovered {
            log.push(base_offset, batch);
        }
        log
    }

    fn push(&mut self, base_offset: i64, batch: Batch) {
        self.producers.record(&batch, base_offset);
        self.size_bytes += batch.len() as u64;
        self.next_offset = base_offset + i64::from(batch.last_offset_delta()) + 1;
        self.batches.push(Stored { base_offset, batch });
    }

    /// Appends one batch, or answers a retried one with the offset it already has.
    /// The batch is on disk (written, and synced if the policy says so) before this returns.
    pub fn append(&mut self, batch: Batch) -> Result<Appended, ResponseError> {
        match self.state {
            State::Open => {}
            State::Failed => return Err(ResponseError::KafkaStorageError),
            State::Deleted => return Err(ResponseError::UnknownTopicOrPartition),
        }
        if batch.is_transactional() {
            // Transactions are not offered (no AddPartitionsToTxn/EndTxn), so a transactional
            // batch can only come from a confused client.
            return Err(ResponseError::InvalidTxnState);
        }
        if let SequenceCheck::Duplicate(base_offset) = self.producers.check(&batch)? {
            return Ok(Appended { base_offset });
        }
        let base_offset = self.next_offset;
        if let Some(segment) = &mut self.segment {
            if let Err(err) = segment.append(&batch, base_offset) {
                self.fail(&err);
                return Err(ResponseError::KafkaStorageError);
            }
        }
        self.push(base_offset, batch);
        Ok(Appended { base_offset })
    }

    pub fn log_start_offset(&self) -> i64 {
        self.batches
            .first()
            .map_or(self.next_offset, |b| b.base_offset)
    }

    /// Bytes of record batches held (what DescribeLogDirs reports as the partition's size).
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The high watermark: with one replica every appended batch is committed.
    pub fn high_watermark(&self) -> i64 {
        self.next_offset
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` (but always at least one
    /// batch, so a consumer is never stuck behind a batch larger than its limit, as in KIP-74).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, ResponseError> {
        if offset < self.log_start_offset() || offset > self.next_offset {
            return Err(ResponseError::OffsetOutOfRange);
        }
        let first = self.batches.partition_point(|b| b.last_offset() < offset);
        let mut out = BytesMut::new();
        for stored in &self.batches[first..] {
            if !out.is_empty() && out.len() + stored.batch.len() > max_bytes {
                break;
            }
            stored
                .batch
                .write_with_offset(&mut out, stored.base_offset, LEADER_EPOCH);
        }
        Ok(out.freeze())
    }

    /// The first offset whose batch holds a timestamp at or after `timestamp`, with that batch's
    /// largest timestamp. Batch granularity: records are not decoded to find the exact one.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .find(|b| b.batch.max_timestamp() >= timestamp)
            .map(|b| {
                (
                    b.base_offset.max(self.log_start_offset()),
                    b.batch.max_timestamp(),
                )
            })
    }

    /// The idempotent producers that wrote here: (id, epoch, last sequence, last timestamp).
    pub fn active_producers(&self) -> Vec<(i64, i16, i32, i64)> {
        self.producers.active()
    }

    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.max_producer_id()
    }

    /// A handle for fsyncing the tail segment outside the partition lock (`None` in memory,
    /// or when nothing was written since the last one).
    pub fn sync_handle(&mut self) -> Option<std::io::Result<std::fs::File>> {
        self.segment.as_mut().and_then(SegmentWriter::sync_handle)
    }

    /// A write or fsync of the segment failed: refuse appends until restart.
    pub fn fail(&mut self, err: &std::io::Error) {
        tracing::error!(%err, "a log segment write or fsync failed: this partition answers KAFKA_STORAGE_ERROR to producers until the broker restarts");
        self.state = State::Failed;
    }

    /// The topic is deleted: close the segment file; a produce still holding the topic is
    /// answered UNKNOWN_TOPIC_OR_PARTITION instead of writing into a removed folder.
    pub fn close(&mut self) {
        self.segment = None;
        self.state = State::Deleted;
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    use super::*;
    use crate::log::batch;

    /// A batch as an idempotent producer would send it, encoded by kafka-protocol.
    fn batch(producer_id: i64, epoch: i16, first_sequence: i32, count: i32) -> Batch {
        let records: Vec<Record> = (0..count)
            .map(|i| Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i64::from(i),
                sequence: first_sequence + i,
                timestamp: 1_000 + i64::from(i),
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from_static(b"v")),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encode");
        batch::take_one(&buf.freeze()).expect("valid batch").0
    }

    #[test]
    fn a_retried_batch_is_acknowledged_once_and_stored_once() {
        let mut log = PartitionLog::default();
        assert_eq!(
            log.append(batch(7, 0, 0, 3)),
            Ok(Appended { base_offset: 0 })
        );
        assert_eq!(
            log.append(batch(7, 0, 0, 3)),
            Ok(Appended { base_offset: 0 }),
            "duplicate answered with its offset"
        );
        assert_eq!(log.high_watermark(), 3, "and not stored again");
        assert_eq!(
            log.append(batch(7, 0, 3, 2)),
            Ok(Appended { base_offset: 3 })
        );
        assert_eq!(log.high_watermark(), 5);
    }

    #[test]
    fn sequence_gaps_and_stale_epochs_are_refused() {
        let mut log = PartitionLog::default();
        assert_eq!(
            log.append(batch(7, 1, 0, 2)),
            Ok(Appended { base_offset: 0 })
        );
        assert_eq!(
            log.append(batch(7, 1, 5, 1)),
            Err(ResponseError::OutOfOrderSequenceNumber)
        );
        assert_eq!(
            log.append(batch(7, 0, 2, 1)),
            Err(ResponseError::InvalidProducerEpoch)
        );
        assert_eq!(
            log.append(batch(8, 0, 4, 1)),
            Err(ResponseError::OutOfOrderSequenceNumber),
            "a new producer starts at 0"
        );
        assert_eq!(
            log.append(batch(7, 2, 0, 1)),
            Ok(Appended { base_offset: 2 }),
            "a bumped epoch restarts at 0"
        );
        assert_eq!(
            log.append(batch(-1, -1, -1, 4)),
            Ok(Appended { base_offset: 3 }),
            "plain producers are not checked"
        );
        assert_eq!(log.high_watermark(), 7);
    }

    #[test]
    fn reads_whole_batches_with_assigned_offsets() {
        let mut log = PartitionLog::default();
        for _ in 0..3 {
            log.append(batch(-1, -1, -1, 2)).expect("append");
        }
        let read = log.read(3, 1).expect("read");
        let (first, rest) = batch::take_one(&read).expect("a whole batch even over max_bytes");
        assert_eq!(
            i64::from_be_bytes(first.data[..8].try_into().expect("8 bytes")),
            2
        );
        assert!(rest.is_empty());
        assert_eq!(log.read(6, 1 << 20).expect("at the end").len(), 0);
        assert_eq!(log.read(7, 1 << 20), Err(ResponseError::OffsetOutOfRange));
        assert_eq!(log.offset_for_timestamp(1_001), Some((0, 1_001)));
        assert_eq!(log.offset_for_timestamp(5_000), None);
    }
}
