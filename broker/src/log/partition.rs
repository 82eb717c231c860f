//! One partition's log: batches in offset order, appended and read as raw bytes.

use std::collections::VecDeque;

use super::chunked::Chunked;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;

use super::batch::Batch;
use super::control;
use super::open_txns::{AbortedTxn, OpenTxns};
use super::producers::{Producers, SequenceCheck};
use super::segment::{Recovered, SegmentWriter};

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

/// A segment of the log: the batches from `base_offset` to the next segment's. Segments are
/// what retention deletes, whole; with a data directory each is one file.
#[derive(Debug)]
struct Segment {
    base_offset: i64,
    bytes: u64,
    max_timestamp: i64,
    /// When it was started (wall clock, ms): it is closed `segment.ms` later.
    opened_ms: i64,
}

/// When a segment is closed and the next one started (Kafka's `segment.bytes`, `segment.ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rolling {
    pub bytes: u64,
    pub ms: i64,
}

/// How much of a partition's log is kept (Kafka's `retention.ms` and `retention.bytes`;
/// -1: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub ms: i64,
    pub bytes: i64,
}

/// One partition: its batches in memory (the fetch path reads only these), the producer
/// state for idempotence, and the segment file when the broker has a data directory.
///
/// It is always reached through the partition mutex (`cluster::Partition::log`), so offset
/// assignment, the segment write and the in-memory append happen as one step, in one order.
#[derive(Debug)]
pub struct PartitionLog {
    /// Chunked: pushing never moves the batches already held (see `Chunked`).
    batches: Chunked<Stored>,
    segments: VecDeque<Segment>,
    /// A segment is closed and a new one started before a batch that would take it past
    /// `rolling.bytes`, or once it is `rolling.ms` old.
    rolling: Rolling,
    /// The first offset a consumer may read: the first batch's, or later after DeleteRecords.
    log_start: i64,
    next_offset: i64,
    size_bytes: u64,
    producers: Producers,
    /// Open and aborted transactions, for the last stable offset and `read_committed` fetches.
    txns: OpenTxns,
    segment: Option<SegmentWriter>,
    state: State,
}

/// Whether the partition still takes appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
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
    /// An empty log in memory.
    pub fn new(rolling: Rolling) -> Self {
        Self {
            batches: Chunked::default(),
            segments: VecDeque::new(),
            rolling,
            log_start: 0,
            next_offset: 0,
            size_bytes: 0,
            producers: Producers::default(),
            txns: OpenTxns::default(),
            segment: None,
            state: State::Open,
        }
    }

    /// The log recovered from its segment files, appending to them from now on.
    pub fn with_segment(segment: SegmentWriter, recovered: Recovered, rolling: Rolling) -> Self {
        let mut log = Self {
            segment: Some(segment),
            ..Self::new(rolling)
        };
        log.log_start = recovered
            .batches
            .first()
            .map_or(0, |(base_offset, _)| *base_offset);
        let mut bases = recovered.segment_bases.iter().peekable();
        let now = crate::files::unix_millis();
        for (base_offset, batch) in recovered.batches {
            // A new segment where the next file begins, as the files were rolled.
            let mut starts = log.segments.is_empty();
            while bases.peek().is_some_and(|b| **b <= base_offset) {
                bases.next();
                starts = true;
            }
            let first_timestamp = batch.max_timestamp();
            log.push(base_offset, batch, starts);
            if starts {
                // Its age runs from its first record, as Kafka's segment.ms does, not from
                // this restart.
                if let Some(tail) = log.segments.back_mut() {
                    tail.opened_ms = first_timestamp.min(now);
                }
            }
        }
        // A file rolled but not yet written to: the log ends where it begins, even when
        // retention has deleted every file before it.
        if let Some(&last) = recovered.segment_bases.last() {
            if log.segments.back().is_none_or(|s| s.base_offset < last) {
                log.next_offset = log.next_offset.max(last);
                if log.batches.is_empty() {
                    log.log_start = log.next_offset;
                }
                log.segments.push_back(Segment {
                    base_offset: last,
                    bytes: 0,
                    max_timestamp: i64::MIN,
                    opened_ms: now,
                });
            }
        }
        if let Some(stored) = recovered.log_start {
            log.log_start = log.log_start.max(stored).min(log.next_offset);
            log.forget_before(log.log_start);
        }
        log
    }

    fn push(&mut self, base_offset: i64, batch: Batch, new_segment: bool) {
        self.producers.record(&batch, base_offset);
        self.txns.record(&batch, base_offset);
        self.size_bytes += batch.len() as u64;
        if new_segment || self.segments.is_empty() {
            self.segments.push_back(Segment {
                base_offset,
                bytes: 0,
                max_timestamp: i64::MIN,
                opened_ms: crate::files::unix_millis(),
            });
        }
        if let Some(segment) = self.segments.back_mut() {
            segment.bytes += batch.len() as u64;
            segment.max_timestamp = segment.max_timestamp.max(batch.max_timestamp());
        }
        self.next_offset = base_offset + i64::from(batch.last_offset_delta()) + 1;
        self.batches.push_back(Stored { base_offset, batch });
    }

    /// Appends one batch, or answers a retried one with the offset it already has.
    /// The batch is on disk (written, and synced if the policy says so) before this returns.
    /// A transactional batch must have been checked against its transaction by the caller
    /// (`txn::Transactions::append_checked`).
    pub fn append(&mut self, batch: Batch) -> Result<Appended, ResponseError> {
        self.check_open()?;
        // Kafka's ProducerAppendInfo: a producer with a transaction open here writes only
        // transactional batches until it ends (a plain one could push the partition's epoch
        // past the coordinator's and leave the transaction unable to end).
        if !batch.is_transactional() && self.txns.open_since(batch.producer_id()).is_some() {
            return Err(ResponseError::InvalidTxnState);
        }
        if let SequenceCheck::Duplicate(base_offset) = self.producers.check(&batch)? {
            return Ok(Appended { base_offset });
        }
        self.write(batch)
    }

    /// Writes the marker ending `producer_id`'s transaction (commit or abort) at `epoch`,
    /// which may be newer than the producer's last one here (a fenced producer's transaction
    /// is aborted with the bumped epoch) but never older.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<Appended, ResponseError> {
        self.check_open()?;
        if self.producers.epoch(producer_id).is_some_and(|e| e > epoch) {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        let now = crate::files::unix_millis();
        self.write(control::marker(producer_id, epoch, commit, now))
    }

    fn check_open(&self) -> Result<(), ResponseError> {
        match self.state {
            State::Open => Ok(()),
            State::Failed => Err(ResponseError::KafkaStorageError),
            State::Deleted => Err(ResponseError::UnknownTopicOrPartition),
        }
    }

    fn write(&mut self, batch: Batch) -> Result<Appended, ResponseError> {
        let base_offset = self.next_offset;
        let roll = self.segments.back().is_some_and(|s| {
            s.bytes > 0
                && (s.bytes + batch.len() as u64 > self.rolling.bytes
                    || crate::files::unix_millis().saturating_sub(s.opened_ms) >= self.rolling.ms)
        });
        if let Some(segment) = &mut self.segment {
            if let Err(err) = segment.append(&batch, base_offset, roll) {
                self.fail(&err);
                return Err(ResponseError::KafkaStorageError);
            }
        }
        self.push(base_offset, batch, roll);
        Ok(Appended { base_offset })
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start
    }

    /// DeleteRecords: moves the log start to `offset` (-1: the high watermark), drops the
    /// batches wholly before it from memory and the segment files wholly before it from disk.
    /// The new log start is on disk before anything is removed, so a restart never goes back.
    /// Returns the log start after the call (Kafka's low watermark); an offset at or below it
    /// changes nothing.
    pub fn delete_records(&mut self, offset: i64) -> Result<i64, ResponseError> {
        let target = if offset == -1 {
            self.next_offset
        } else {
            offset
        };
        if !(0..=self.next_offset).contains(&target) {
            return Err(ResponseError::OffsetOutOfRange);
        }
        if target <= self.log_start {
            return Ok(self.log_start);
        }
        if self.state == State::Deleted {
            return Err(ResponseError::UnknownTopicOrPartition);
        }
        self.advance(target, true)?;
        Ok(target)
    }

    /// Moves the log start to `target`: whole segments before it leave memory and disk, and
    /// the batches wholly before it leave memory. `record`: keep `target` itself on disk
    /// (DeleteRecords); retention cuts at a segment's start, which the files already say.
    fn advance(&mut self, target: i64, record: bool) -> Result<(), ResponseError> {
        if let Some(segment) = &mut self.segment {
            if let Err(err) = segment.delete_before(target, record) {
                self.fail(&err);
                return Err(ResponseError::KafkaStorageError);
            }
        }
        self.log_start = target;
        while self.segments.len() > 1 && self.segments[1].base_offset <= target {
            self.segments.pop_front();
        }
        self.forget_before(target);
        Ok(())
    }

    /// Drops from memory the batches wholly before `target`. A segment's `bytes` stay what its
    /// file holds (Kafka measures retention and rolls by file size); `size_bytes` is memory.
    fn forget_before(&mut self, target: i64) {
        self.txns.forget_before(target);
        while self
            .batches
            .front()
            .is_some_and(|b| b.last_offset() < target)
        {
            if let Some(gone) = self.batches.pop_front() {
                self.size_bytes -= gone.batch.len() as u64;
            }
        }
    }

    /// Closes the segment being appended to once it is `segment.ms` old, or once everything in
    /// it is past `retention.ms`, so that retention can delete a quiet partition's data too
    /// (Kafka rolls an expired active segment the same way). The next append opens a new one.
    fn roll_if_due(&mut self, now_ms: i64, retention: Retention) -> Result<(), ResponseError> {
        let Some(tail) = self.segments.back() else {
            return Ok(());
        };
        let aged = now_ms.saturating_sub(tail.opened_ms) >= self.rolling.ms;
        let expired = retention.ms >= 0 && tail.max_timestamp < now_ms.saturating_sub(retention.ms);
        if tail.bytes == 0 || !(aged || expired) {
            return Ok(());
        }
        if let Some(segment) = &mut self.segment {
            if let Err(err) = segment.roll(self.next_offset) {
                self.fail(&err);
                return Err(ResponseError::KafkaStorageError);
            }
        }
        self.segments.push_back(Segment {
            base_offset: self.next_offset,
            bytes: 0,
            max_timestamp: i64::MIN,
            opened_ms: now_ms,
        });
        Ok(())
    }

    /// Deletes the oldest segments that `retention` no longer keeps: older than `ms` (by
    /// their newest timestamp), or not needed to keep `bytes`, as Kafka does. The segment
    /// being appended to always stays. Returns the bytes freed.
    pub fn apply_retention(&mut self, now_ms: i64, retention: Retention) -> u64 {
        if self.state != State::Open || self.roll_if_due(now_ms, retention).is_err() {
            return 0;
        }
        let mut kept: i64 = self.segments.iter().map(|s| s.bytes as i64).sum();
        let mut target = None;
        for (oldest, next) in self.segments.iter().zip(self.segments.iter().skip(1)) {
            let too_old =
                retention.ms >= 0 && oldest.max_timestamp < now_ms.saturating_sub(retention.ms);
            let too_big = retention.bytes >= 0 && kept - retention.bytes >= oldest.bytes as i64;
            if !(too_old || too_big) {
                break;
            }
            kept -= oldest.bytes as i64;
            target = Some(next.base_offset);
        }
        self.drop_until(target)
    }

    /// New `segment.bytes` / `segment.ms` for the segments still to roll (AlterConfigs).
    pub fn set_rolling(&mut self, rolling: Rolling) {
        self.rolling = rolling;
    }

    /// Bytes in segments other than the one being appended to: what could be deleted.
    pub fn closed_segment_bytes(&self) -> u64 {
        self.size_bytes
            .saturating_sub(self.segments.back().map_or(0, |s| s.bytes))
    }

    /// Deletes the oldest segment, if it is not the one being appended to (the broker's
    /// memory budget); the bytes freed.
    pub fn drop_oldest_segment(&mut self) -> u64 {
        let target = self.segments.get(1).map(|s| s.base_offset);
        self.drop_until(target)
    }

    fn drop_until(&mut self, target: Option<i64>) -> u64 {
        let before = self.size_bytes;
        if let Some(target) = target.filter(|t| *t > self.log_start) {
            if self.advance(target, false).is_err() {
                return 0;
            }
        }
        before - self.size_bytes
    }

    /// Bytes of record batches held (what DescribeLogDirs reports as the partition's size).
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    /// The high watermark: with one replica every appended batch is committed.
    pub fn high_watermark(&self) -> i64 {
        self.next_offset
    }

    /// The last stable offset: below it every transaction has ended (committed or aborted).
    /// A `read_committed` consumer reads up to it, not to the high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.txns
            .first_open()
            .map_or(self.next_offset, |first| first.min(self.next_offset))
            .max(self.log_start)
    }

    /// Whole batches from the one holding `offset`, up to `max_bytes` (but always at least one
    /// batch, so a consumer is never stuck behind a batch larger than its limit, as in KIP-74).
    #[cfg(test)]
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Bytes, ResponseError> {
        self.read_until(offset, max_bytes, self.next_offset)
            .map(|(data, _)| data)
    }

    /// As `read`, with only batches that begin before `until` (the last stable offset for a
    /// `read_committed` fetch); also the offset after the last batch returned (`offset` if
    /// none), which bounds the aborted transactions a fetch lists.
    pub fn read_until(
        &self,
        offset: i64,
        max_bytes: usize,
        until: i64,
    ) -> Result<(Bytes, i64), ResponseError> {
        if offset < self.log_start_offset() || offset > self.next_offset {
            return Err(ResponseError::OffsetOutOfRange);
        }
        let first = self.batches.partition_point(|b| b.last_offset() < offset);
        let mut out = BytesMut::new();
        let mut end = offset;
        for stored in self
            .batches
            .iter_from(first)
            .take_while(|b| b.base_offset < until)
        {
            if !out.is_empty() && out.len() + stored.batch.len() > max_bytes {
                break;
            }
            stored
                .batch
                .write_with_offset(&mut out, stored.base_offset, LEADER_EPOCH);
            end = stored.last_offset() + 1;
        }
        Ok((out.freeze(), end))
    }

    /// The aborted transactions overlapping offsets `from` to `until` (exclusive).
    pub fn aborted_between(&self, from: i64, until: i64) -> Vec<AbortedTxn> {
        self.txns.aborted_between(from, until)
    }

    /// Where `producer_id`'s open transaction begins here, if it has one.
    pub fn open_txn_since(&self, producer_id: i64) -> Option<i64> {
        self.txns.open_since(producer_id)
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
    use super::*;

    /// A batch of `count` records as an idempotent producer would send it.
    fn batch(producer_id: i64, epoch: i16, first_sequence: i32, count: i32) -> Batch {
        let keys: Vec<String> = (0..count).map(|i| format!("k{i}")).collect();
        let records: Vec<(Option<&[u8]>, &[u8])> = keys
            .iter()
            .map(|k| (Some(k.as_bytes()), &b"v"[..]))
            .collect();
        let encoded = batch::testing::encode(producer_id, epoch, first_sequence, &records);
        batch::take_one(&encoded).expect("valid batch").0
    }
    use crate::log::batch;

    /// A batch as an idempotent producer would send it, encoded by kafka-protocol.

    #[test]
    fn a_retried_batch_is_acknowledged_once_and_stored_once() {
        let mut log = PartitionLog::new(Rolling {
            bytes: 1 << 30,
            ms: i64::MAX,
        });
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
        let mut log = PartitionLog::new(Rolling {
            bytes: 1 << 30,
            ms: i64::MAX,
        });
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

    /// Ten batches of the same size, two a segment.
    fn five_segments() -> (PartitionLog, u64) {
        let one = batch(-1, -1, -1, 2).len() as u64;
        let mut log = PartitionLog::new(Rolling {
            bytes: 2 * one,
            ms: i64::MAX,
        });
        for _ in 0..10 {
            log.append(batch(-1, -1, -1, 2)).expect("append");
        }
        (log, one)
    }

    #[test]
    fn retention_deletes_whole_old_segments_and_never_the_active_one() {
        let forever = Retention { ms: -1, bytes: -1 };
        let (mut log, one) = five_segments();
        assert_eq!(log.apply_retention(i64::MAX, forever), 0);
        // Keep at least 5 batches: the two oldest segments (4 batches) go, not a third.
        let by_size = Retention {
            ms: -1,
            bytes: 5 * one as i64,
        };
        assert_eq!(log.apply_retention(0, by_size), 4 * one);
        assert_eq!(
            log.log_start_offset(),
            8,
            "at the start of the first segment kept"
        );
        assert_eq!(log.read(7, 1 << 20), Err(ResponseError::OffsetOutOfRange));
        assert_eq!(log.closed_segment_bytes(), 4 * one);
        assert_eq!(
            log.drop_oldest_segment(),
            2 * one,
            "the memory budget takes the oldest closed segment"
        );
        // Batches are stamped 1000-1001: at 100000 everything is older than a minute, the
        // segment being appended to too: it is closed, then deleted with the others.
        let by_time = Retention {
            ms: 60_000,
            bytes: -1,
        };
        assert_eq!(log.apply_retention(100_000, by_time), 4 * one);
        assert_eq!(
            (
                log.log_start_offset(),
                log.high_watermark(),
                log.size_bytes()
            ),
            (20, 20, 0)
        );
        assert_eq!(
            log.drop_oldest_segment(),
            0,
            "the (empty) segment being appended to is never dropped"
        );
        assert_eq!(
            log.append(batch(-1, -1, -1, 2)),
            Ok(Appended { base_offset: 20 }),
            "appends carry on"
        );
        assert_eq!(log.drop_oldest_segment(), 0);
    }

    #[test]
    fn segments_also_close_by_age() {
        let one = batch(-1, -1, -1, 2).len() as u64;
        // segment.ms of 0: every segment is old enough to close before the next batch.
        let mut log = PartitionLog::new(Rolling {
            bytes: 1 << 30,
            ms: 0,
        });
        for _ in 0..3 {
            log.append(batch(-1, -1, -1, 2)).expect("append");
        }
        assert_eq!(log.closed_segment_bytes(), 2 * one, "one batch a segment");
        let by_time = Retention {
            ms: 60_000,
            bytes: -1,
        };
        assert_eq!(
            log.apply_retention(100_000, by_time),
            3 * one,
            "the tail closed too"
        );
        assert_eq!(log.log_start_offset(), 6);
    }

    /// A partition that stops receiving: its last segment is closed once expired and deleted,
    /// and after a restart with no record left the log still ends where it ended.
    #[test]
    fn a_quiet_partitions_expired_data_goes_and_its_end_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rolling = Rolling {
            bytes: 1 << 30,
            ms: i64::MAX,
        };
        let open = || {
            let files = super::super::segment::OpenFiles::new(4);
            let (segment, recovered) =
                SegmentWriter::open(dir.path(), crate::config::FsyncPolicy::Never, files)
                    .expect("open");
            PartitionLog::with_segment(segment, recovered, rolling)
        };
        let mut log = open();
        for _ in 0..3 {
            log.append(batch(-1, -1, -1, 2)).expect("append");
        }
        let by_time = Retention {
            ms: 60_000,
            bytes: -1,
        };
        assert!(
            log.apply_retention(100_000, by_time) > 0,
            "the expired tail went"
        );
        assert_eq!(
            (
                log.log_start_offset(),
                log.high_watermark(),
                log.size_bytes()
            ),
            (6, 6, 0)
        );
        drop(log);
        let mut log = open();
        assert_eq!((log.log_start_offset(), log.high_watermark()), (6, 6));
        assert_eq!(
            log.append(batch(-1, -1, -1, 2)),
            Ok(Appended { base_offset: 6 })
        );
        drop(log);
        let log = open();
        assert_eq!((log.log_start_offset(), log.high_watermark()), (6, 8));
    }

    #[test]
    fn delete_records_moves_the_log_start_and_frees_whole_batches() {
        let mut log = PartitionLog::new(Rolling {
            bytes: 1 << 30,
            ms: i64::MAX,
        });
        for _ in 0..3 {
            log.append(batch(-1, -1, -1, 2)).expect("append");
        }
        let one_batch = log.size_bytes() / 3;
        assert_eq!(log.delete_records(3), Ok(3));
        assert_eq!(log.log_start_offset(), 3);
        assert_eq!(log.size_bytes(), 2 * one_batch, "offsets 0-1 are gone");
        assert_eq!(log.read(2, 1 << 20), Err(ResponseError::OffsetOutOfRange));
        let (first, _) = batch::take_one(&log.read(3, 1).expect("read")).expect("batch");
        assert_eq!(
            i64::from_be_bytes(first.data[..8].try_into().expect("8 bytes")),
            2,
            "the batch holding offset 3 is served whole, as Kafka does"
        );
        assert_eq!(log.delete_records(1), Ok(3), "never backwards");
        assert_eq!(log.delete_records(7), Err(ResponseError::OffsetOutOfRange));
        assert_eq!(
            log.delete_records(-1),
            Ok(6),
            "-1: up to the high watermark"
        );
        assert_eq!(log.size_bytes(), 0);
        assert_eq!(log.read(6, 1 << 20).expect("at the end").len(), 0);
        assert_eq!(log.offset_for_timestamp(0), None);
    }

    #[test]
    fn reads_whole_batches_with_assigned_offsets() {
        let mut log = PartitionLog::new(Rolling {
            bytes: 1 << 30,
            ms: i64::MAX,
        });
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
