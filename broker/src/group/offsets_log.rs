//! Committed offsets on disk: an append-only file of CRC-checked records, compacted at start.
//!
//! Record: `len u32 | crc32c u32 | group | topic | partition i32 | offset i64 | metadata`,
//! strings as `u16 length + UTF-8` (metadata length `0xFFFF` means null). An offset of -1 is a
//! tombstone (the topic was deleted). A torn last record is dropped.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::Committed;

pub type AllOffsets = BTreeMap<String, BTreeMap<(String, i32), Committed>>;

/// The open offsets file. It sits behind `Coordinator::offsets_log`'s mutex, taken while the
/// committing group is locked, so records reach the file in the order the commits were applied.
pub struct OffsetsLog {
    file: File,
}

fn put_str(out: &mut BytesMut, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(0xFFFE)];
    out.put_u16(bytes.len() as u16);
    out.put_slice(bytes);
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

fn encode(group: &str, topic: &str, partition: i32, committed: &Committed) -> BytesMut {
    let mut payload = BytesMut::new();
    put_str(&mut payload, group);
    put_str(&mut payload, topic);
    payload.put_i32(partition);
    payload.put_i64(committed.offset);
    match &committed.metadata {
        Some(m) => put_str(&mut payload, m),
        None => payload.put_u16(0xFFFF),
    }
    let mut record = BytesMut::with_capacity(payload.len() + 8);
    record.put_u32(payload.len() as u32);
    record.put_u32(crc32c::crc32c(&payload));
    record.put_slice(&payload);
    record
}

fn decode(mut payload: Bytes) -> Option<(String, String, i32, Committed)> {
    let group = get_str(&mut payload)??;
    let topic = get_str(&mut payload)??;
    if payload.remaining() < 12 {
        return None;
    }
    let partition = payload.get_i32();
    let offset = payload.get_i64();
    let metadata = get_str(&mut payload)?;
    Some((group, topic, partition, Committed { offset, metadata }))
}

fn read_all(path: &Path) -> io::Result<AllOffsets> {
    let mut all = AllOffsets::new();
    let mut buf = match fs::read(path) {
        Ok(data) => Bytes::from(data),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(all),
        Err(err) => return Err(err),
    };
    while buf.remaining() >= 8 {
        let len = buf.get_u32() as usize;
        let crc = buf.get_u32();
        if buf.remaining() < len {
            break;
        }
        let payload = buf.split_to(len);
        if crc32c::crc32c(&payload) != crc {
            break;
        }
        let Some((group, topic, partition, committed)) = decode(payload) else {
            break;
        };
        let offsets = all.entry(group).or_default();
        if committed.offset < 0 {
            offsets.remove(&(topic, partition));
        } else {
            offsets.insert((topic, partition), committed);
        }
    }
    Ok(all)
}

impl OffsetsLog {
    /// Loads every committed offset, then rewrites the file with just the live ones.
    pub fn open(dir: &Path) -> io::Result<(Self, AllOffsets)> {
        fs::create_dir_all(dir)?;
        let path = dir.join("consumer-offsets.log");
        let all = read_all(&path)?;
        let tmp: PathBuf = dir.join("consumer-offsets.log.tmp");
        let mut compacted = BytesMut::new();
        for (group, offsets) in &all {
            for ((topic, partition), committed) in offsets {
                compacted.extend_from_slice(&encode(group, topic, *partition, committed));
            }
        }
        fs::write(&tmp, &compacted)?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &path)?;
        let file = OpenOptions::new().append(true).open(&path)?;
        Ok((Self { file }, all))
    }

    pub fn append(
        &mut self,
        group: &str,
        topic: &str,
        partition: i32,
        committed: &Committed,
    ) -> io::Result<()> {
        // A plain write() on the async worker thread, under the group's and this log's locks:
        // one record of about 30 bytes plus the names (an 80-byte append measured p50 0.5 us,
        // p99 2.5 us, worst 130 us on the 2-core dev VM). It copies into the page cache and
        // does not wait for the disk, so handing it to another thread would cost more than it
        // saves. There is no fsync: a committed offset survives a crash of the process, not
        // of the machine, as with FsyncPolicy::Never for the log (a lost commit replays a few
        // messages, which at-least-once consumers already handle).
        self.file
            .write_all(&encode(group, topic, partition, committed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_latest_offsets_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut log, all) = OffsetsLog::open(dir.path()).expect("open");
            assert!(all.is_empty());
            let c = |offset| Committed {
                offset,
                metadata: Some("m".into()),
            };
            log.append("g", "t", 0, &c(5)).expect("write");
            log.append("g", "t", 0, &c(9)).expect("write");
            log.append("g", "gone", 1, &c(3)).expect("write");
            log.append("g", "gone", 1, &c(-1)).expect("write");
        }
        let path = dir.path().join("consumer-offsets.log");
        let mut bytes = fs::read(&path).expect("read");
        bytes.extend_from_slice(&[0, 0, 0, 40, 1, 2]);
        fs::write(&path, bytes).expect("write torn tail");
        let (_, all) = OffsetsLog::open(dir.path()).expect("reopen");
        let g = &all["g"];
        assert_eq!(g.len(), 1);
        assert_eq!(g[&("t".to_string(), 0)].offset, 9);
        assert_eq!(g[&("t".to_string(), 0)].metadata.as_deref(), Some("m"));
    }
}
