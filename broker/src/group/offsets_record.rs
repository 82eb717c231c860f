//! The records of the committed offsets file (`offsets_log`) and their encoding.
//!
//! Records are framed with a length and checksum (`crate::framed`); in the payload, strings as `u16 length + UTF-8`, length `0xFFFF` meaning null. Two payloads:
//! - a commit: `group | topic | partition i32 | offset i64 | metadata` (metadata may be null).
//!   An offset of -1 is a tombstone: the partition's offset was removed (its topic was deleted,
//!   or the group's offsets expired).
//! - a retention clock (see `expiry`): `null | "empty-since" | group | since i64`, `since` in
//!   milliseconds since the Unix epoch, or -1 while the group has members. The null where a
//!   commit has its group makes a broker that predates these records find them undecodable,
//!   skip them and keep them, instead of reading them as commits; the kind name leaves room
//!   for other kinds.

use std::io;
use std::time::{Duration, UNIX_EPOCH};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::expiry::Clock;
use super::state::Committed;
use crate::framed::frame;

/// Shortest payload: a commit with two empty names and null metadata. A clock record is longer,
/// so brokers that predate it do not take it for a torn or corrupt record.
const MIN_PAYLOAD: usize = 2 + 2 + 4 + 8 + 2;
/// Longest payload `encode` can write: three strings of 0xFFFE bytes, partition and offset.
const MAX_PAYLOAD: usize = 3 * (2 + 0xFFFE) + 4 + 8;
const CLOCK: &str = "empty-since";

/// One decoded record.
#[derive(Debug, PartialEq, Eq)]
pub enum Record {
    Commit {
        group: String,
        topic: String,
        partition: i32,
        committed: Committed,
    },
    Clock {
        group: String,
        clock: Clock,
    },
}

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
    Ok(frame(&payload))
}

/// The record of a group's retention clock.
pub fn encode_clock(group: &str, clock: Clock) -> io::Result<Bytes> {
    let since = match clock {
        Clock::Stopped => -1,
        Clock::Since(t) => t
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
    };
    let mut payload = BytesMut::new();
    payload.put_u16(0xFFFF);
    put_str(&mut payload, CLOCK)?;
    put_str(&mut payload, group)?;
    payload.put_i64(since);
    Ok(frame(&payload))
}

/// A payload that does not decode whole (trailing bytes included) is `None`.
pub fn decode(mut payload: Bytes) -> Option<Record> {
    let record = match get_str(&mut payload)? {
        Some(group) => {
            let topic = get_str(&mut payload)??;
            if payload.remaining() < 12 {
                return None;
            }
            let partition = payload.get_i32();
            let offset = payload.get_i64();
            let metadata = get_str(&mut payload)?;
            Record::Commit {
                group,
                topic,
                partition,
                committed: Committed { offset, metadata },
            }
        }
        None => {
            if get_str(&mut payload)?? != CLOCK {
                return None;
            }
            let group = get_str(&mut payload)??;
            if payload.remaining() < 8 {
                return None;
            }
            let clock = match payload.get_i64() {
                -1 => Clock::Stopped,
                ms => Clock::Since(
                    UNIX_EPOCH.checked_add(Duration::from_millis(u64::try_from(ms).ok()?))?,
                ),
            };
            Record::Clock { group, clock }
        }
    };
    (!payload.has_remaining()).then_some(record)
}

/// The payload lengths a record of this file can have (see `framed`).
pub const LENGTHS: std::ops::RangeInclusive<usize> = MIN_PAYLOAD..=MAX_PAYLOAD;
