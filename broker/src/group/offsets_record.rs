//! The records of the committed offsets file (`offsets_log`) and their encoding.
//!
//! Record: `len u32 | crc32c u32 | group | topic | partition i32 | offset i64 | metadata`,
//! `len` and the CRC-32C covering the payload after them; strings as `u16 length + UTF-8`
//! (metadata length `0xFFFF` means null). An offset of -1 is a tombstone (the topic was deleted).

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::Committed;

/// Shortest payload: two empty names, partition, offset, null metadata.
const MIN_PAYLOAD: usize = 2 + 2 + 4 + 8 + 2;
/// Longest payload `encode` can write: three strings of 0xFFFE bytes, partition and offset.
const MAX_PAYLOAD: usize = 3 * (2 + 0xFFFE) + 4 + 8;

fn put_str(out: &mut BytesMut, s: &str) -> io::Result<()> {
    let len = u16::try_from(s.len())
        .ok()
        .filter(|len| *len < 0xFFFF)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a name of {} bytes does not fit an offsets record", s.len()),
            )
        })?;
    out.put_u16(len);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn get_str(buf: &mut Bytes) -> Option<Option<String>> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = buf.get_u16();
    if len == 0xFFFF {
        return Some(None);
    }
    if buf.remaining() < usize::from(len) {
        return None;
    }
    String::from_utf8(buf.split_to(usize::from(len)).to_vec())
        .ok()
        .map(Some)
}

/// The record for one commit; a name too long for the format is refused, never cut short.
pub fn encode(
    group: &str,
    topic: &str,
    partition: i32,
    committed: &Committed,
) -> io::Result<Bytes> {
    let mut payload = BytesMut::new();
    put_str(&mut payload, group)?;
    put_str(&mut payload, topic)?;
    payload.put_i32(partition);
    payload.put_i64(committed.offset);
    match &committed.metadata {
        Some(m) => put_str(&mut payload, m)?,
        None => payload.put_u16(0xFFFF),
    }
    let mut record = BytesMut::with_capacity(payload.len() + 8);
    record.put_u32(payload.len() as u32);
    record.put_u32(crc32c::crc32c(&payload));
    record.put_slice(&payload);
    Ok(record.freeze())
}

/// A payload that does not decode whole (trailing bytes included) is `None`.
pub fn decode(mut payload: Bytes) -> Option<(String, String, i32, Committed)> {
    let group = get_str(&mut payload)??;
    let topic = get_str(&mut payload)??;
    if payload.remaining() < 12 {
        return None;
    }
    let partition = payload.get_i32();
    let offset = payload.get_i64();
    let metadata = get_str(&mut payload)?;
    if payload.has_remaining() {
        return None;
    }
    Some((group, topic, partition, Committed { offset, metadata }))
}

/// The whole record starting at `at`, if its length is plausible and its checksum passes.
pub fn record_at(data: &Bytes, at: usize) -> Option<Bytes> {
    let header = data.get(at..at.checked_add(8)?)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if !(MIN_PAYLOAD..=MAX_PAYLOAD).contains(&len) || data.len() - at - 8 < len {
        return None;
    }
    let payload = data.slice(at + 8..at + 8 + len);
    (crc32c::crc32c(&payload) == crc).then(|| data.slice(at..at + 8 + len))
}
