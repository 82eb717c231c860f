//! Transaction markers: the control batch a commit or an abort writes to every partition of
//! the transaction. One control record: key `version i16 = 0 | type i16` (0 abort, 1 commit),
//! value `version i16 = 0 | coordinator epoch i32`, as Kafka's `EndTransactionMarker`.
//! Consumers never see it as a record; a `read_committed` consumer learns from it that the
//! producer's transaction ended here.

use bytes::{BufMut, Bytes, BytesMut};

use super::batch::{self, Batch, HEADER_LEN, LOG_OVERHEAD};

const ATTRIBUTES: i16 = 0x10 | 0x20; // transactional | control
const ABORT: i16 = 0;
const COMMIT: i16 = 1;

/// The marker ending `producer_id`'s transaction at `epoch`, stamped `timestamp_ms`.
pub fn marker(producer_id: i64, epoch: i16, commit: bool, timestamp_ms: i64) -> Batch {
    // The record: its length, then attributes, timestamp delta and offset delta (all 0),
    // key length 4, the key, value length 6, the value, no headers. Varints are zigzag, and
    // every one of these small numbers fits one byte.
    let zigzag = |n: u8| n << 1;
    let mut record = BytesMut::new();
    record.put_u8(0);
    record.put_u8(zigzag(0));
    record.put_u8(zigzag(0));
    record.put_u8(zigzag(4));
    record.put_i16(0);
    record.put_i16(if commit { COMMIT } else { ABORT });
    record.put_u8(zigzag(6));
    record.put_i16(0);
    record.put_i32(0); // the coordinator epoch: one coordinator, for ever
    record.put_u8(zigzag(0));

    let mut out = BytesMut::with_capacity(HEADER_LEN + 1 + record.len());
    out.put_i64(0); // the base offset, assigned when appended
    out.put_i32((HEADER_LEN - LOG_OVERHEAD + 1 + record.len()) as i32);
    out.put_i32(0); // leader epoch
    out.put_i8(2); // magic
    out.put_u32(0); // the CRC, filled in below
    out.put_i16(ATTRIBUTES);
    out.put_i32(0); // last offset delta: one record
    out.put_i64(timestamp_ms);
    out.put_i64(timestamp_ms);
    out.put_i64(producer_id);
    out.put_i16(epoch);
    out.put_i32(-1); // base sequence: markers are not sequenced
    out.put_i32(1); // record count
    out.put_u8(zigzag(record.len() as u8));
    out.put_slice(&record);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    batch::take_one(&out.freeze())
        .expect("a marker is a valid batch")
        .0
}

/// Whether a control batch is a commit (`Some(true)`) or an abort (`Some(false)`) marker;
/// `None` for anything else (a data batch, or a control record of another kind).
pub fn marker_type(batch: &Batch) -> Option<bool> {
    if !batch.is_control() {
        return None;
    }
    let mut rest: Bytes = batch.data.slice(HEADER_LEN..);
    // Record length, attributes, timestamp delta, offset delta: skipped; then the key.
    varint(&mut rest)?;
    rest = rest.slice(1.min(rest.len())..);
    varint(&mut rest)?;
    varint(&mut rest)?;
    let key_len = usize::try_from(varint(&mut rest)?).ok()?;
    let key = rest.get(..key_len.min(rest.len()))?;
    match key.get(2..4).map(|t| i16::from_be_bytes([t[0], t[1]])) {
        Some(COMMIT) => Some(true),
        Some(ABORT) => Some(false),
        _ => None,
    }
}

/// Reads one zigzag varint (at most 5 bytes) off the front of `buf`.
fn varint(buf: &mut Bytes) -> Option<i64> {
    let mut value: u64 = 0;
    for (i, byte) in buf.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = buf.slice(i + 1..);
            return Some((value >> 1) as i64 ^ -((value & 1) as i64));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_valid_control_batches_that_say_what_they_end() {
        for commit in [true, false] {
            let m = marker(42, 3, commit, 1_000);
            assert!(m.is_control() && m.is_transactional());
            assert_eq!((m.producer_id(), m.producer_epoch()), (42, 3));
            assert_eq!((m.record_count(), m.last_offset_delta()), (1, 0));
            assert_eq!(marker_type(&m), Some(commit));
        }
        assert_eq!(marker_type(&batch::testing::one(10)), None, "a data batch");
    }

    /// kafka-protocol, as a client, reads the marker as one control record with Kafka's key.
    #[test]
    fn a_client_decodes_the_marker_as_kafka_writes_it() {
        let m = marker(7, 0, true, 5);
        let mut data = m.data.clone();
        let records = kafka_protocol::records::RecordBatchDecoder::decode(&mut data)
            .expect("decodes")
            .records;
        assert_eq!(records.len(), 1);
        assert!(records[0].control && records[0].transactional);
        assert_eq!(
            records[0].key.as_deref(),
            Some(&[0u8, 0, 0, 1][..]),
            "version 0, type 1 (commit)"
        );
    }
}
