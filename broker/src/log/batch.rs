//! Record batches (magic v2) as the client sent them. Only the 61-byte batch header is read;
//! records are never decoded on the produce or fetch path.
//!
//! ```text
//! 0  baseOffset i64 | 8 batchLength i32 | 12 partitionLeaderEpoch i32 | 16 magic i8 | 17 crc u32
//! 21 attributes i16 | 23 lastOffsetDelta i32 | 27 baseTimestamp i64 | 35 maxTimestamp i64
//! 43 producerId i64 | 51 producerEpoch i16 | 53 baseSequence i32 | 57 recordCount i32 | 61 records
//! ```
//! The CRC-32C covers bytes 21.. to the end, so the broker may rewrite the base offset and
//! leader epoch without recomputing it.

use bytes::{BufMut, Bytes};

pub const HEADER_LEN: usize = 61;
/// Bytes before and including `batchLength`: they are not counted by `batchLength`.
pub const LOG_OVERHEAD: usize = 12;
const CRC_START: usize = 21;
const TRANSACTIONAL_FLAG: i16 = 0x10;
const CONTROL_FLAG: i16 = 0x20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchError {
    /// Truncated, wrong length, bad CRC: Kafka's CORRUPT_MESSAGE.
    Corrupt,
    /// Magic 0 or 1 (pre-0.11 message sets): Kafka 4 refuses them too.
    UnsupportedMagic,
}

/// A validated batch: its header fields and the bytes exactly as received.
#[derive(Debug, Clone)]
pub struct Batch {
    pub data: Bytes,
}

pub(super) fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}

impl Batch {
    pub fn last_offset_delta(&self) -> i32 {
        i32_at(&self.data, 23)
    }
    pub fn max_timestamp(&self) -> i64 {
        i64_at(&self.data, 35)
    }
    pub fn producer_id(&self) -> i64 {
        i64_at(&self.data, 43)
    }
    pub fn producer_epoch(&self) -> i16 {
        i16_at(&self.data, 51)
    }
    pub fn base_sequence(&self) -> i32 {
        i32_at(&self.data, 53)
    }
    pub fn record_count(&self) -> i32 {
        i32_at(&self.data, 57)
    }
    pub fn is_transactional(&self) -> bool {
        i16_at(&self.data, 21) & TRANSACTIONAL_FLAG != 0
    }
    /// A transaction marker (written by the broker only, never accepted from a client).
    pub fn is_control(&self) -> bool {
        i16_at(&self.data, 21) & CONTROL_FLAG != 0
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Copies the batch into `out` with the broker-assigned base offset and leader epoch.
    pub fn write_with_offset(&self, out: &mut impl BufMut, base_offset: i64, leader_epoch: i32) {
        out.put_i64(base_offset);
        out.put_slice(&self.data[8..12]);
        out.put_i32(leader_epoch);
        out.put_slice(&self.data[16..]);
    }
}

/// Splits a produce request's `records` into batches, checking each one's framing, magic
/// and CRC. One bad batch refuses the whole partition's data, as Kafka does.
///
/// Each batch is copied out of the request: `records` is a slice of the request frame, and
/// a stored slice would keep the whole frame in memory for as long as the batch is stored (a
/// small batch followed by megabytes of anything else in the same request). Recovery
/// (`segment::recover_segment`) keeps slicing with [`take_one`]: its buffer is a segment
/// file, which holds stored batches only (and at most a torn tail, cut off), so its slices
/// share it with nothing wasted and no second copy of the log made at start.
pub fn split(records: &Bytes) -> Result<Vec<Batch>, BatchError> {
    let mut batches = Vec::with_capacity(1);
    let mut rest = records.clone();
    while !rest.is_empty() {
        let (batch, tail) = take_one(&rest)?;
        batches.push(Batch {
            data: Bytes::copy_from_slice(&batch.data),
        });
        rest = tail;
    }
    if batches.is_empty() {
        return Err(BatchError::Corrupt);
    }
    Ok(batches)
}

/// Reads the first batch of `buf`; returns it and what follows.
pub fn take_one(buf: &Bytes) -> Result<(Batch, Bytes), BatchError> {
    if buf.len() < HEADER_LEN {
        return Err(BatchError::Corrupt);
    }
    let declared = i32_at(buf, 8);
    let total = usize::try_from(declared).map_err(|_| BatchError::Corrupt)? + LOG_OVERHEAD;
    if total < HEADER_LEN || total > buf.len() {
        return Err(BatchError::Corrupt);
    }
    if buf[16] != 2 {
        return Err(BatchError::UnsupportedMagic);
    }
    let crc = u32::from_be_bytes([buf[17], buf[18], buf[19], buf[20]]);
    if crc32c::crc32c(&buf[CRC_START..total]) != crc {
        return Err(BatchError::Corrupt);
    }
    let batch = Batch {
        data: buf.slice(..total),
    };
    if batch.last_offset_delta() < 0 || batch.record_count() < 0 {
        return Err(BatchError::Corrupt);
    }
    Ok((batch, buf.slice(total..)))
}

/// Record batches for the broker's unit tests, encoded by kafka-protocol as a client would.
#[cfg(test)]
pub mod testing {
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    /// One batch of `records` (key, value) from `producer_id` (-1: not idempotent), the first
    /// with `first_sequence`, stamped 1000, 1001, ...
    pub fn encode(
        producer_id: i64,
        epoch: i16,
        first_sequence: i32,
        records: &[(Option<&[u8]>, &[u8])],
    ) -> Bytes {
        encode_as(false, producer_id, epoch, first_sequence, records)
    }

    /// As `encode`, in a transaction: the batch has the transactional flag.
    pub fn transactional(
        producer_id: i64,
        epoch: i16,
        first_sequence: i32,
        records: &[(Option<&[u8]>, &[u8])],
    ) -> Bytes {
        encode_as(true, producer_id, epoch, first_sequence, records)
    }

    fn encode_as(
        transactional: bool,
        producer_id: i64,
        epoch: i16,
        first_sequence: i32,
        records: &[(Option<&[u8]>, &[u8])],
    ) -> Bytes {
        let records: Vec<Record> = (0..)
            .zip(records)
            .map(|(i, (key, value))| Record {
                transactional,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i64::from(i),
                // Also for -1: the encoder keeps records in one batch while offset minus
                // sequence stays the same.
                sequence: first_sequence + i,
                timestamp: 1_000 + i64::from(i),
                key: key.map(Bytes::copy_from_slice),
                value: Some(Bytes::copy_from_slice(value)),
                headers: Default::default(),
            })
            .collect();
        let mut buf = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        };
        RecordBatchEncoder::encode(&mut buf, records.iter(), &options).expect("encode");
        buf.freeze()
    }

    /// A plain one-record batch with a `value_len`-byte value, as the log stores it.
    pub fn one(value_len: usize) -> super::Batch {
        super::take_one(&encode(-1, -1, -1, &[(None, &vec![b'v'; value_len])]))
            .expect("valid batch")
            .0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    /// A minimal valid batch with no records, built by hand for the framing checks only.
    fn empty_batch(last_offset_delta: i32) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i64(0);
        b.put_i32((HEADER_LEN - LOG_OVERHEAD) as i32);
        b.put_i32(0);
        b.put_i8(2);
        b.put_u32(0);
        b.put_i16(0);
        b.put_i32(last_offset_delta);
        b.put_i64(1000);
        b.put_i64(2000);
        b.put_i64(-1);
        b.put_i16(-1);
        b.put_i32(-1);
        b.put_i32(0);
        let crc = crc32c::crc32c(&b[CRC_START..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b.freeze()
    }

    #[test]
    fn splits_concatenated_batches_and_reads_header() {
        let mut two = BytesMut::new();
        two.extend_from_slice(&empty_batch(0));
        two.extend_from_slice(&empty_batch(4));
        let batches = split(&two.freeze()).expect("valid");
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[1].last_offset_delta(), 4);
        assert_eq!(batches[1].max_timestamp(), 2000);
    }

    /// A batch stored from a produce request does not keep the request's frame alive: the
    /// frame is freed once the request is answered, whatever else it carried.
    #[test]
    fn split_batches_do_not_share_the_request_frame() {
        let mut frame = BytesMut::new();
        frame.extend_from_slice(b"request header");
        frame.extend_from_slice(&empty_batch(0));
        frame.extend_from_slice(&vec![0u8; 4 * 1024 * 1024]);
        let frame = frame.freeze();
        let start = b"request header".len();
        let records = frame.slice(start..start + HEADER_LEN);
        let batches = split(&records).expect("valid");
        drop(records);
        let stored = batches[0].data.as_ptr_range();
        let sent = frame.as_ptr_range();
        assert!(
            stored.end <= sent.start || stored.start >= sent.end,
            "the stored batch is a copy, not a slice of the frame"
        );
        assert!(frame.is_unique(), "nothing else holds the frame");
        assert_eq!(batches[0].data, frame.slice(start..start + HEADER_LEN));
    }

    #[test]
    fn refuses_bad_crc_truncation_and_old_magic() {
        let good = empty_batch(0);
        let mut flipped = BytesMut::from(&good[..]);
        flipped[40] ^= 1;
        assert_eq!(
            split(&flipped.freeze()).expect_err("a flipped bit fails the CRC"),
            BatchError::Corrupt
        );
        assert_eq!(
            split(&good.slice(..30)).expect_err("a truncated batch is refused"),
            BatchError::Corrupt
        );
        let mut old = BytesMut::from(&good[..]);
        old[16] = 1;
        assert_eq!(
            split(&old.freeze()).expect_err("magic 1 is not served"),
            BatchError::UnsupportedMagic
        );
        assert_eq!(
            split(&Bytes::new()).expect_err("no batch at all is refused"),
            BatchError::Corrupt
        );
    }

    #[test]
    fn rewrites_offset_and_epoch_keeping_crc_valid() {
        let (batch, _) = take_one(&empty_batch(2)).expect("valid");
        let mut out = BytesMut::new();
        batch.write_with_offset(&mut out, 42, 7);
        let (again, _) = take_one(&out.freeze()).expect("crc still valid");
        assert_eq!(i64_at(&again.data, 0), 42);
        assert_eq!(i32_at(&again.data, 12), 7);
    }
}
