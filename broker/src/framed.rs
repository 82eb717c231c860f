//! Checksummed records in append-only state files (committed offsets, transactions).
//!
//! Record: `len u32 | crc32c u32 | payload`, `len` and the CRC-32C covering the payload.
//! [`scan`] reads every record it can: where no valid record starts, the next one is searched
//! for byte by byte (a length in range and a matching checksum); if there is none, the rest is
//! a torn tail (a write cut short by a crash).

use std::io;
use std::ops::RangeInclusive;
use std::path::Path;

use bytes::{BufMut, Bytes, BytesMut};

/// Prefixes a payload with its length and checksum.
pub fn frame(payload: &[u8]) -> Bytes {
    let mut record = BytesMut::with_capacity(payload.len() + 8);
    record.put_u32(payload.len() as u32);
    record.put_u32(crc32c::crc32c(payload));
    record.put_slice(payload);
    record.freeze()
}

/// The whole record starting at `at`, if its length is in `lengths` and its checksum passes.
pub fn record_at(data: &Bytes, at: usize, lengths: &RangeInclusive<usize>) -> Option<Bytes> {
    let header = data.get(at..at.checked_add(8)?)?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if !lengths.contains(&len) || data.len() - at - 8 < len {
        return None;
    }
    let payload = data.slice(at + 8..at + 8 + len);
    (crc32c::crc32c(&payload) == crc).then(|| data.slice(at..at + 8 + len))
}

/// What a scan of a state file found.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Every record whose checksum passed, whole (header included), in file order.
    pub records: Vec<Bytes>,
    /// Bytes in the middle that failed the checksum, stepped over to the next valid record.
    pub corrupt_bytes: usize,
    /// Bytes at the end with no valid record after them.
    pub torn_tail: usize,
}

/// Reads every valid record of `data` whose payload length is in `lengths`.
pub fn scan(data: &Bytes, lengths: RangeInclusive<usize>) -> Scanned {
    let mut found = Scanned::default();
    let mut at = 0;
    while at < data.len() {
        let Some(record) = record_at(data, at, &lengths) else {
            match (at + 1..data.len()).find(|&next| record_at(data, next, &lengths).is_some()) {
                Some(next) => {
                    found.corrupt_bytes += next - at;
                    at = next;
                    continue;
                }
                None => {
                    found.torn_tail = data.len() - at;
                    break;
                }
            }
        };
        at += record.len();
        found.records.push(record);
    }
    found
}

/// The payload of a record `scan` returned.
pub fn payload(record: &Bytes) -> Bytes {
    record.slice(8..)
}

/// Reads and scans the state file at `path` (none yet: nothing in it). When bytes in the middle
/// failed their checksum, the file is kept aside as `<name>.corrupt-<ms since epoch>` before
/// anything rewrites it; damage is logged, naming `what` the file holds.
pub fn load(path: &Path, what: &str, lengths: RangeInclusive<usize>) -> io::Result<Scanned> {
    let data = match std::fs::read(path) {
        Ok(data) => Bytes::from(data),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Bytes::new(),
        Err(err) => return Err(err),
    };
    let scanned = scan(&data, lengths);
    if scanned.corrupt_bytes > 0 {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".corrupt-{}", crate::files::unix_millis()));
        let kept = path.with_file_name(name);
        std::fs::hard_link(path, &kept).or_else(|_| std::fs::copy(path, &kept).map(drop))?;
        tracing::warn!(
            path = %path.display(),
            bytes = scanned.corrupt_bytes,
            original = %kept.display(),
            "bytes failing their checksum in the middle of {what} were skipped"
        );
    }
    if scanned.torn_tail > 0 {
        tracing::warn!(path = %path.display(), bytes = scanned.torn_tail, "torn tail of {what} cut off");
    }
    Ok(scanned)
}
